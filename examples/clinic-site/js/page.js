// @ts-check
/**
 * What every page of the site shares: building elements (text always as text),
 * the header, the entry's JSON-LD in the head, series navigation, and the body
 * HTML the CMS sanitised, its links turned into links to this site's pages.
 */
import { CLINIC } from "../config.js";
import { ApiError, get } from "./api.js";

/** @typedef {import("./api.js").SeriesNavigation} SeriesNavigation */
/** @typedef {import("./api.js").Schemas["ClinicListItem"]} ClinicListItem */

/** This site's page for each type of entry. */
const PAGES = /** @type {const} */ ({
  article: "article.html",
  "case-story": "story.html",
  condition: "condition.html",
  practitioner: "practitioner.html",
});

/**
 * An element with text children (never parsed as HTML).
 *
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {{ className?: string, href?: string, id?: string }} [props]
 * @param {...(Node | string | null)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.id) node.id = props.id;
  if (props.href && node instanceof HTMLAnchorElement) node.href = props.href;
  for (const child of children) {
    if (child !== null) node.append(child);
  }
  return node;
}

/**
 * The address of this site's page for an entry, or null when the site has none.
 *
 * @param {string} type
 * @param {string} slug
 * @returns {string | null}
 */
export function pageFor(type, slug) {
  if (type === "clinic") return slug === CLINIC ? "index.html" : null;
  const page = PAGES[/** @type {keyof typeof PAGES} */ (type)];
  return page ? `${page}?slug=${encodeURIComponent(slug)}` : null;
}

/**
 * A link to this site's page for an entry (plain text when it has none).
 *
 * @param {string} type
 * @param {{ slug: string, title: string }} entry
 * @returns {HTMLElement}
 */
export function entryLink(type, entry) {
  const href = pageFor(type, entry.slug);
  return href ? el("a", { href }, entry.title) : el("span", {}, entry.title);
}

/**
 * The header of every page: the clinic's name and the site's sections.
 *
 * @param {string} clinicName
 */
export function header(clinicName) {
  const nav = el(
    "nav",
    {},
    el("a", { href: "index.html" }, "Home"),
    el("a", { href: "articles.html" }, "Articles"),
  );
  document.body.prepend(el("header", {}, el("a", { href: "index.html", className: "brand" }, clinicName), nav));
}

/**
 * The page's title and meta description, from the entry's SEO fields when set.
 *
 * @param {{ title: string, summary: string, seo: { title: string, description: string } }} entry
 */
export function describe(entry) {
  document.title = entry.seo.title || entry.title;
  const meta = el("meta");
  meta.name = "description";
  meta.content = entry.seo.description || entry.summary;
  document.head.append(meta);
}

/**
 * The entry's schema.org description, as search engines read it from the head.
 *
 * @param {{ [key: string]: unknown } | null} jsonLd
 */
export function addJsonLd(jsonLd) {
  if (!jsonLd) return;
  const script = el("script");
  script.type = "application/ld+json";
  script.textContent = JSON.stringify(jsonLd);
  document.head.append(script);
}

/**
 * "Part 2 of 3" with links to the previous and next parts.
 *
 * @param {SeriesNavigation | null} series
 * @returns {HTMLElement | null}
 */
export function seriesNavigation(series) {
  if (!series) return null;
  const nav = el(
    "nav",
    { className: "series" },
    el("p", {}, el("strong", {}, series.title), ` \u2014 part ${series.part} of ${series.total}`),
  );
  if (series.previous) {
    nav.append(el("p", { className: "previous" }, "Previous: ", entryLink(series.previous.type, series.previous)));
  }
  if (series.next) {
    nav.append(el("p", { className: "next" }, "Next: ", entryLink(series.next.type, series.next)));
  }
  return nav;
}

/**
 * The clinics' sites and URL patterns, to recognise links to their pages.
 *
 * @returns {Promise<ClinicListItem[]>}
 */
async function clinicSites() {
  return (await get("/api/v1/clinics", { query: { limit: 100 } })).data;
}

/**
 * The entry a canonical URL of a clinic's site names, or null.
 *
 * @param {URL} url
 * @param {ClinicListItem[]} clinics
 * @returns {{ type: string, slug: string } | null}
 */
function entryAt(url, clinics) {
  for (const clinic of clinics) {
    if (!clinic.site_url || url.origin !== new URL(clinic.site_url).origin) continue;
    for (const [type, pattern] of Object.entries(clinic.url_patterns)) {
      const [before, after] = pattern.split("{slug}");
      if (after === undefined || !url.pathname.startsWith(before) || !url.pathname.endsWith(after)) continue;
      const slug = url.pathname.slice(before.length, url.pathname.length - after.length);
      if (slug && !slug.includes("/")) return { type, slug: decodeURIComponent(slug) };
    }
  }
  return null;
}

/**
 * The entry's body: HTML the CMS sanitised, so it is inserted as HTML; links to
 * pages of the clinics' sites lead to this site's pages instead.
 *
 * @param {string} bodyHtml
 * @returns {Promise<HTMLElement>}
 */
export async function body(bodyHtml) {
  const container = el("div", { className: "body" });
  container.innerHTML = bodyHtml;
  const links = container.querySelectorAll("a[href]");
  if (links.length > 0) {
    const clinics = await clinicSites();
    for (const link of links) {
      const target = entryAt(new URL(link.getAttribute("href") ?? "", window.location.href), clinics);
      const local = target && pageFor(target.type, target.slug);
      if (local) link.setAttribute("href", local);
    }
  }
  return container;
}

/**
 * Replace what `main` shows with `parts`, leaving out the missing ones.
 *
 * @param {HTMLElement} main
 * @param {...(Node | null)} parts
 */
export function show(main, ...parts) {
  main.replaceChildren(...parts.filter((part) => part !== null));
}

/**
 * The `slug` query parameter of this page.
 *
 * @returns {string}
 */
export function slugParameter() {
  const slug = new URLSearchParams(window.location.search).get("slug");
  if (!slug) throw new Error("This page needs ?slug= in its address.");
  return slug;
}

/**
 * Build the page with `render` into `<main>`; a failure is shown, not swallowed.
 *
 * @param {(main: HTMLElement) => Promise<void>} render
 */
export async function run(render) {
  const main = /** @type {HTMLElement} */ (document.querySelector("main"));
  try {
    const clinic = await get("/api/v1/clinics/{slug}", { slug: CLINIC });
    header(clinic.title);
    await render(main);
  } catch (error) {
    const message = error instanceof ApiError && error.status === 404 ? "Not found." : String(error);
    main.replaceChildren(el("p", { className: "error", id: "error" }, message));
    console.error(error);
  }
}
