// Bundles the visualizer page (src/ui/web) next to the compiled server (dist/src/ui/web), at build
// time: the daemon serves these files and nothing is fetched from outside.
import { copyFile, mkdir } from 'node:fs/promises';
import { build } from 'esbuild';

const out = 'dist/src/ui/web';
await mkdir(out, { recursive: true });
await build({
  entryPoints: ['src/ui/web/main.ts'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outfile: `${out}/app.js`,
  logLevel: 'warning',
});
for (const f of ['index.html', 'style.css']) await copyFile(`src/ui/web/${f}`, `${out}/${f}`);
