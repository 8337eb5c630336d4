// What the browser tests inject into the page, beside (never inside) the app's bundle:
// axe-core's accessibility checker, at the version the lockfile pins.
import { copyFile, mkdir } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const outDir = "dist/todo_web_test";
await mkdir(outDir, { recursive: true });
await copyFile(require.resolve("axe-core/axe.min.js"), `${outDir}/axe.min.js`);
console.log(`${outDir}/axe.min.js`);
