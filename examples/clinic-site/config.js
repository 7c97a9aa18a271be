// @ts-check
/**
 * Where the site finds the API, and which clinic it is the website of.
 *
 * Change the defaults here, or give them once in the address bar
 * (`index.html?api=http://127.0.0.1:8000&clinic=edmonton`): the site keeps them
 * for the rest of the visit, in this tab only.
 */

const DEFAULTS = { api: "http://127.0.0.1:8000", clinic: "calgary" };

/**
 * @param {"api" | "clinic"} name
 * @returns {string}
 */
function setting(name) {
  const given = new URLSearchParams(window.location.search).get(name);
  if (given) {
    sessionStorage.setItem(`clinic-site:${name}`, given);
    return given;
  }
  return sessionStorage.getItem(`clinic-site:${name}`) ?? DEFAULTS[name];
}

/** The API's origin, without a trailing slash. */
export const API_BASE = setting("api").replace(/\/+$/, "");
/** The slug of the clinic this site belongs to. */
export const CLINIC = setting("clinic");
/** Articles per page of the blog. */
export const PAGE_SIZE = 4;
