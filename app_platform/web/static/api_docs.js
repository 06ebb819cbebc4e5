// Swagger UI over Loom's live OpenAPI document (assets served locally).
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: node.dataset.spec, dom_id: "#swagger-ui", deepLinking: true });
});
