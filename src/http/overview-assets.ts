/**
 * The overview page's static files, read and gzipped once when the routes
 * are built: the page's own script and style (src/http/assets/, copied beside
 * the compiled module by the build) and uPlot's, from the installed `uplot`
 * package. Served from memory under /assets/; nothing comes from another host.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync, constants as zlibConstants } from 'node:zlib';
import { NetprobeError } from '../errors/index.js';

export interface StaticAsset {
  contentType: string;
  identity: Buffer;
  gzip: Buffer;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** URL path → where the file is (relative to this module, or a package file). */
const ASSETS: ReadonlyArray<{ path: string; contentType: string; file: () => string }> = [
  { path: '/assets/overview.js', contentType: JS, file: () => new URL('./assets/overview.js', import.meta.url).pathname },
  { path: '/assets/overview.css', contentType: CSS, file: () => new URL('./assets/overview.css', import.meta.url).pathname },
  { path: '/assets/uplot.min.js', contentType: JS, file: () => createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js') },
  { path: '/assets/uplot.min.css', contentType: CSS, file: () => createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css') },
];

let loaded: ReadonlyMap<string, StaticAsset> | undefined;

/** The page's static files by URL path; read from disk on the first call only. */
export function overviewAssets(): ReadonlyMap<string, StaticAsset> {
  if (loaded) return loaded;
  const assets = new Map<string, StaticAsset>();
  for (const a of ASSETS) {
    let identity: Buffer;
    let where = a.path;
    try {
      where = a.file();
      identity = readFileSync(where);
    } catch (error) {
      throw new NetprobeError('NP_ERR_ASSET_MISSING', `cannot read the overview page's file ${where}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    assets.set(a.path, { contentType: a.contentType, identity, gzip: gzipSync(identity, { level: zlibConstants.Z_BEST_COMPRESSION }) });
  }
  loaded = assets;
  return assets;
}
