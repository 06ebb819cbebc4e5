// Copy the prebuilt browser bundles Loom serves from node_modules into Flask's static
// folder. Run by `make` after `npm ci`; nothing is fetched at run time.
import { cpSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "..", "node_modules");
const target = join(here, "..", "..", "app_platform", "web", "static", "vendor");

const files = {
  "swagger-ui/swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
  "swagger-ui/swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
  "sortable/Sortable.min.js": "sortablejs/Sortable.min.js",
  "echarts/echarts.min.js": "echarts/dist/echarts.min.js",
  "bpmn-js/bpmn-modeler.production.min.js": "bpmn-js/dist/bpmn-modeler.production.min.js",
  "bpmn-js/bpmn-navigated-viewer.production.min.js":
    "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
  "bpmn-js/diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
  "bpmn-js/bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
  "bpmn-js/bpmn-font": "bpmn-js/dist/assets/bpmn-font",
};

for (const [to, from] of Object.entries(files)) {
  const source = join(modules, from);
  if (!existsSync(source)) {
    console.error(`missing ${source}: run npm ci first`);
    process.exit(1);
  }
  mkdirSync(dirname(join(target, to)), { recursive: true });
  cpSync(source, join(target, to), { recursive: true });
}
console.log(`vendored ${Object.keys(files).length} assets into ${target}`);
