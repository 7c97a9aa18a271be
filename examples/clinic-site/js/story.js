// @ts-check
/** A case story: the patient, what brought them in, the treatment and outcome, and its series. */
import { get } from "./api.js";
import { addJsonLd, body, describe, el, entryLink, run, seriesNavigation, show, slugParameter } from "./page.js";

/**
 * @param {string} term
 * @param {string | Node | null} definition
 * @returns {HTMLElement[]}
 */
function fact(term, definition) {
  return definition ? [el("dt", {}, term), el("dd", {}, definition)] : [];
}

run(async (main) => {
  const story = await get("/api/v1/case-stories/{slug}", { slug: slugParameter() });
  describe(story);
  addJsonLd(story.json_ld);
  const patient = story.patient_profile;
  const facts = el(
    "dl",
    { className: "facts-list" },
    ...fact("Patient", [patient.age_range, patient.sex, patient.occupation].filter(Boolean).join(", ")),
    ...fact("What brought them in", story.trigger),
    ...fact("Practitioner", story.practitioner ? entryLink("practitioner", story.practitioner) : null),
    ...fact("Outcome", story.outcome),
  );
  show(
    main,
    el("h1", {}, story.title),
    seriesNavigation(story.series),
    story.illustrative ? el("p", { className: "note" }, "An illustrative story, not a real patient's.") : null,
    facts,
    await body(story.body_html),
  );
});
