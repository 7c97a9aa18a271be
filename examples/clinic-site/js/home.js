// @ts-check
/** The clinic's home page: where it is, when it is open, who works there, what it publishes. */
import { CLINIC } from "../config.js";
import { get } from "./api.js";
import { addJsonLd, body, describe, el, entryLink, run, show } from "./page.js";

/** @typedef {import("./api.js").OpeningHours} OpeningHours */

const DAYS = { Mo: "Monday", Tu: "Tuesday", We: "Wednesday", Th: "Thursday", Fr: "Friday", Sa: "Saturday", Su: "Sunday" };

/**
 * @param {OpeningHours} hours
 * @returns {HTMLElement}
 */
function hoursRow(hours) {
  const days = hours.days.map((day) => DAYS[day]);
  const span = days.length > 2 ? `${days[0]} to ${days[days.length - 1]}` : days.join(" and ");
  return el("li", {}, `${span}: ${hours.opens}\u2013${hours.closes}`);
}

/**
 * A titled list of links, or nothing when it is empty.
 *
 * @param {string} id
 * @param {string} title
 * @param {HTMLElement[]} items
 */
function section(id, title, items) {
  if (items.length === 0) return null;
  return el("section", { id }, el("h2", {}, title), el("ul", {}, ...items.map((item) => el("li", {}, item))));
}

run(async (main) => {
  const clinic = await get("/api/v1/clinics/{slug}", { slug: CLINIC });
  const query = { clinic: CLINIC, limit: 100 };
  const [practitioners, stories, conditions, articles] = await Promise.all([
    get("/api/v1/practitioners", { query }),
    get("/api/v1/case-stories", { query: { ...query, sort: "published_at" } }),
    get("/api/v1/conditions", { query: { ...query, sort: "title" } }),
    get("/api/v1/articles", { query: { clinic: CLINIC, limit: 3 } }),
  ]);
  describe(clinic);
  addJsonLd(clinic.json_ld);

  const address = el(
    "address",
    { id: "address" },
    el("span", {}, clinic.address),
    el("span", {}, `${clinic.city}, ${clinic.province} ${clinic.postal_code}`),
    el("span", {}, `Phone ${clinic.phone}`),
    el("span", {}, clinic.email),
  );
  show(
    main,
    el("h1", {}, clinic.title),
    el("p", { className: "summary" }, clinic.summary),
    el(
      "div",
      { className: "facts" },
      el("section", {}, el("h2", {}, "Visit us"), address),
      el("section", { id: "hours" }, el("h2", {}, "Opening hours"), el("ul", {}, ...clinic.opening_hours.map(hoursRow))),
    ),
    section(
      "practitioners",
      "Our practitioners",
      practitioners.data.map((p) => el("span", {}, entryLink("practitioner", p), ` \u2014 ${p.role}`)),
    ),
    section("stories", "Patient stories", stories.data.map((s) => entryLink("case-story", s))),
    section("latest", "Latest articles", articles.data.map((a) => entryLink("article", a))),
    section("conditions", "Conditions we treat", conditions.data.map((c) => entryLink("condition", c))),
    await body(clinic.body_html),
    clinic.example_data ? el("p", { className: "note" }, "The contact details on this page are example data.") : null,
  );
});
