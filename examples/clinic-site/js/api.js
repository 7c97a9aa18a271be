// @ts-check
/**
 * The CMS's read API, typed by the types generated from its OpenAPI document
 * (`types/api.d.ts`, made by openapi-typescript: `make types-ts`).
 */
import { API_BASE } from "../config.js";

/** @typedef {import("../types/api").components["schemas"]} Schemas */
/** @typedef {Schemas["Clinic"]} Clinic */
/** @typedef {Schemas["ClinicList"]} ClinicList */
/** @typedef {Schemas["Article"]} Article */
/** @typedef {Schemas["ArticleList"]} ArticleList */
/** @typedef {Schemas["Casestory"]} CaseStory */
/** @typedef {Schemas["CasestoryList"]} CaseStoryList */
/** @typedef {Schemas["Condition"]} Condition */
/** @typedef {Schemas["ConditionList"]} ConditionList */
/** @typedef {Schemas["Practitioner"]} Practitioner */
/** @typedef {Schemas["PractitionerList"]} PractitionerList */
/** @typedef {Schemas["SeriesNavigation"]} SeriesNavigation */
/** @typedef {Schemas["OpeningHours"]} OpeningHours */
/** @typedef {Schemas["Problem"]} Problem */

/**
 * The list and entry paths of the API, with the documents they answer.
 * @typedef {import("../types/api").paths} Paths
 * @typedef {{
 *   "/api/v1/clinics": ClinicList,
 *   "/api/v1/clinics/{slug}": Clinic,
 *   "/api/v1/articles": ArticleList,
 *   "/api/v1/articles/{slug}": Article,
 *   "/api/v1/case-stories": CaseStoryList,
 *   "/api/v1/case-stories/{slug}": CaseStory,
 *   "/api/v1/conditions": ConditionList,
 *   "/api/v1/conditions/{slug}": Condition,
 *   "/api/v1/practitioners": PractitionerList,
 *   "/api/v1/practitioners/{slug}": Practitioner,
 * }} Documents
 */

/** An answer other than 200: the API's RFC 9457 problem, when it sent one. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Problem | null} problem
   */
  constructor(status, problem) {
    super(problem ? `${problem.title} (${status})` : `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/**
 * GET one of the API's documents.
 *
 * @template {keyof Documents & keyof Paths} P
 * @param {P} path a path of the OpenAPI document, `{slug}` in it filled from `slug`
 * @param {{ slug?: string, query?: Record<string, string | number | undefined> }} [options]
 * @returns {Promise<Documents[P]>}
 */
export async function get(path, options = {}) {
  const filled = options.slug === undefined ? path : path.replace("{slug}", encodeURIComponent(options.slug));
  const url = new URL(API_BASE + filled);
  for (const [name, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    const isProblem = response.headers.get("Content-Type")?.startsWith("application/problem+json");
    throw new ApiError(response.status, isProblem ? await response.json() : null);
  }
  return response.json();
}
