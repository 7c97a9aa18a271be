// @ts-check
/** A practitioner's profile: role, credentials, what they treat and how. */
import { get } from "./api.js";
import { addJsonLd, body, describe, el, entryLink, run, show, slugParameter } from "./page.js";

run(async (main) => {
  const person = await get("/api/v1/practitioners/{slug}", { slug: slugParameter() });
  describe(person);
  addJsonLd(person.json_ld);
  const credentials = person.credentials.length ? `, ${person.credentials.join(", ")}` : "";
  show(
    main,
    el("h1", {}, `${person.title}${credentials}`),
    el("p", { className: "meta" }, person.role),
    person.specialties.length
      ? el("section", { id: "specialties" }, el("h2", {}, "Treats"), el("ul", {}, ...person.specialties.map((c) => el("li", {}, entryLink("condition", c)))))
      : null,
    await body(person.body_html),
  );
});
