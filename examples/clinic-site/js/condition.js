// @ts-check
/** A health condition: what it is, its symptoms and causes, and questions patients ask. */
import { get } from "./api.js";
import { addJsonLd, body, describe, el, run, show, slugParameter } from "./page.js";

/**
 * @param {string} title
 * @param {string[]} items
 */
function list(title, items) {
  return items.length ? el("section", {}, el("h2", {}, title), el("ul", {}, ...items.map((i) => el("li", {}, i)))) : null;
}

run(async (main) => {
  const condition = await get("/api/v1/conditions/{slug}", { slug: slugParameter() });
  describe(condition);
  addJsonLd(condition.json_ld);
  const faq = condition.faq.length
    ? el("section", { id: "faq" }, el("h2", {}, "Questions"), ...condition.faq.flatMap((q) => [el("h3", {}, q.question), el("p", {}, q.answer)]))
    : null;
  show(
    main,
    el("h1", {}, condition.title),
    condition.also_known_as.length ? el("p", { className: "meta" }, `Also known as ${condition.also_known_as.join(", ")}.`) : null,
    el("p", { className: "summary" }, condition.summary),
    list("Symptoms", condition.symptoms),
    list("Causes", condition.causes),
    await body(condition.body_html),
    faq,
  );
});
