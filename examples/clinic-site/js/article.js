// @ts-check
/** An article: its body, author, conditions, and its place in a series. */
import { get } from "./api.js";
import { addJsonLd, body, describe, el, entryLink, run, seriesNavigation, show, slugParameter } from "./page.js";

run(async (main) => {
  const article = await get("/api/v1/articles/{slug}", { slug: slugParameter() });
  describe(article);
  addJsonLd(article.json_ld);
  const byline = el("p", { className: "meta" });
  if (article.author) byline.append("By ", entryLink("practitioner", article.author), ". ");
  if (article.published_at) byline.append(new Date(article.published_at).toDateString(), ". ");
  byline.append(`${article.reading_time_minutes} min read.`);
  const conditions = article.conditions.length
    ? el("p", { className: "meta" }, "About: ", ...article.conditions.flatMap((c, i) => [i ? ", " : "", entryLink("condition", c)]))
    : null;
  show(
    main,
    el("h1", {}, article.title),
    byline,
    seriesNavigation(article.series),
    await body(article.body_html),
    conditions,
  );
});
