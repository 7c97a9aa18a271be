// @ts-check
/** The blog: the clinic's articles, newest first, a page at a time (`next_cursor`). */
import { CLINIC, PAGE_SIZE } from "../config.js";
import { get } from "./api.js";
import { el, entryLink, run, show } from "./page.js";

run(async (main) => {
  const cursor = new URLSearchParams(window.location.search).get("cursor") ?? undefined;
  const page = await get("/api/v1/articles", { query: { clinic: CLINIC, limit: PAGE_SIZE, cursor } });
  document.title = "Articles";
  const items = page.data.map((article) =>
    el(
      "li",
      {},
      el("h2", {}, entryLink("article", article)),
      el("p", {}, article.summary),
      article.published_at ? el("p", { className: "meta" }, new Date(article.published_at).toDateString()) : null,
    ),
  );
  const pager = el("nav", { className: "pager" });
  if (cursor) pager.append(el("a", { href: "articles.html" }, "Newest articles"));
  if (page.next_cursor) {
    pager.append(el("a", { href: `articles.html?cursor=${encodeURIComponent(page.next_cursor)}`, id: "older" }, "Older articles"));
  }
  show(main, el("h1", {}, "Articles"), el("ul", { className: "entries", id: "articles" }, ...items), pager);
});
