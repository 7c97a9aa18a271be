// Starts Swagger UI on the docs page (cms/http/docs_page.py). A file of its own, not
// an inline script: the page's Content-Security-Policy runs scripts of its origin only.
"use strict";
(function () {
  const container = document.getElementById("swagger-container");
  window.ui = SwaggerUIBundle({
    url: container.dataset.openapiUrl,
    domNode: container,
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
