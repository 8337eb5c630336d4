// After `vite build`: writes the signed-out page (the sign-in form, rendered by the app's
// own components) into index.html so that it paints before the bundle loads, then
// pre-compresses every text asset (gzip and brotli) so the backend serves them as they are.
import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const outDir = "dist/todo_web";
const prerenderDir = ".prerender";
const ROOT = '<div id="root"></div>';

const { render } = await import(pathToFileURL(join(prerenderDir, "prerender.js")).href);
const indexPath = join(outDir, "index.html");
const index = await readFile(indexPath, "utf8");
if (!index.includes(ROOT)) throw new Error(`${indexPath} has no ${ROOT} to render into`);
await writeFile(indexPath, index.replace(ROOT, `<div id="root">${render()}</div>`));
await rm(prerenderDir, { recursive: true, force: true });

const COMPRESSIBLE = /\.(html|js|css|svg|json|txt|map)$/;
async function* files(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}
let count = 0;
for await (const path of files(outDir)) {
  if (!COMPRESSIBLE.test(path) || (await stat(path)).size < 256) continue;
  const body = await readFile(path);
  await writeFile(`${path}.gz`, gzipSync(body, { level: 9 }));
  await writeFile(
    `${path}.br`,
    brotliCompressSync(body, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    }),
  );
  count += 1;
}
console.log(`prerendered ${indexPath}; compressed ${count} files (gzip, brotli)`);
