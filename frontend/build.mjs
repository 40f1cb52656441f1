#!/usr/bin/env node
// Build the vendored front-end libraries into ../static/vendor/.
//
//   node frontend/build.mjs            (from the repository root, or any cwd)
//   node frontend/build.mjs --force    (rebuild even if up to date)
//
// 1. Installs node_modules with `npm ci` from package-lock.json, but only when
//    node_modules is missing or was installed from a different lock file.
// 2. Copies KaTeX, MathLive and Chart.js files, bundles CodeMirror 6 with
//    esbuild, and copies every library's license next to its files. axe-core,
//    a test tool, goes to tests/e2e/vendor/ instead: it is never served.
// 3. Writes static/vendor/.qp-build.json (input hash + file list). When the
//    inputs are unchanged and every listed file is present, it does nothing.
//
// Only static/vendor/{katex,mathlive,chartjs,codemirror}/, the stamp file and
// tests/e2e/vendor/axe-core/ are written; anything else there is left alone.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const NODE_MODULES = path.join(HERE, "node_modules");
const VENDOR = path.join(ROOT, "static", "vendor");
const STAMP = path.join(VENDOR, ".qp-build.json");
const LOCK_STAMP = path.join(NODE_MODULES, ".qp-lock.sha256");
const LIBS = ["katex", "mathlive", "chartjs", "codemirror"];
// Test assets: the browser tests inject them; outside static/, so no page can load them.
const TEST_VENDOR = path.join(ROOT, "tests", "e2e", "vendor");
const TEST_LIBS = ["axe-core"];
const FORCE = process.argv.includes("--force");

const log = (msg) => console.log(`[frontend] ${msg}`);

function sha256(...buffers) {
  const h = createHash("sha256");
  for (const b of buffers) h.update(b);
  return h.digest("hex");
}

function walk(dir, base = dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full, base));
    else if (entry.isFile()) out.push(path.relative(base, full).split(path.sep).join("/"));
  }
  return out.sort();
}

// ---------------------------------------------------------------- install
function ensureNodeModules() {
  const lockHash = sha256(fs.readFileSync(path.join(HERE, "package-lock.json")));
  let installed = null;
  try {
    installed = fs.readFileSync(LOCK_STAMP, "utf8").trim();
  } catch {
    // not installed by this script yet
  }
  if (installed === lockHash && fs.existsSync(path.join(NODE_MODULES, ".package-lock.json"))) {
    return;
  }
  log("installing node_modules with npm ci (package-lock.json)");
  // Lifecycle scripts are not needed: esbuild finds its binary in the
  // @esbuild/<platform> optional dependency.
  const res = spawnSync(
    "npm",
    ["ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
    { cwd: HERE, stdio: "inherit", shell: process.platform === "win32" },
  );
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`npm ci failed with exit code ${res.status}`);
  fs.writeFileSync(LOCK_STAMP, `${lockHash}\n`);
}

// ---------------------------------------------------------------- up to date?
function inputHash() {
  const files = ["package.json", "package-lock.json", "build.mjs", ...walk(path.join(HERE, "src")).map((f) => `src/${f}`)];
  const h = createHash("sha256");
  for (const f of files) {
    h.update(`${f}\0`);
    h.update(fs.readFileSync(path.join(HERE, f)));
    h.update("\0");
  }
  return h.digest("hex");
}

function upToDate(hash) {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(STAMP, "utf8"));
  } catch {
    return false;
  }
  if (stamp.inputs !== hash || !stamp.files || !stamp.testFiles) return false;
  return allPresent(VENDOR, stamp.files) && allPresent(TEST_VENDOR, stamp.testFiles);
}

function allPresent(dir, files) {
  for (const [rel, size] of Object.entries(files)) {
    let st;
    try {
      st = fs.statSync(path.join(dir, rel));
    } catch {
      return false;
    }
    if (st.size !== size) return false;
  }
  return true;
}

// ---------------------------------------------------------------- build steps
const pkgDir = (name) => path.join(NODE_MODULES, ...name.split("/"));

function pkgVersion(name) {
  return JSON.parse(fs.readFileSync(path.join(pkgDir(name), "package.json"), "utf8")).version;
}

function licenseFile(name) {
  const dir = pkgDir(name);
  const found = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
  if (!found) throw new Error(`no LICENSE file in ${name}`);
  return path.join(dir, found);
}

function copy(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.cpSync(from, to, { recursive: true });
}

function mustExist(file) {
  if (!fs.existsSync(file)) throw new Error(`expected file is missing: ${path.relative(HERE, file)}`);
  return file;
}

function buildKatex(out) {
  const dist = path.join(pkgDir("katex"), "dist");
  for (const f of ["katex.min.js", "katex.min.css", "fonts", "contrib/auto-render.min.js"]) {
    copy(mustExist(path.join(dist, f)), path.join(out, f));
  }
  copy(licenseFile("katex"), path.join(out, "LICENSE"));
}

function buildMathlive(out) {
  const dir = pkgDir("mathlive");
  for (const f of ["mathlive.min.js", "mathlive.min.mjs", "fonts", "sounds"]) {
    copy(mustExist(path.join(dir, f)), path.join(out, f));
  }
  for (const f of ["mathlive-static.css", "mathlive-fonts.css"]) {
    if (fs.existsSync(path.join(dir, f))) copy(path.join(dir, f), path.join(out, f));
  }
  copy(licenseFile("mathlive"), path.join(out, "LICENSE"));
}

function buildChartjs(out) {
  const dist = path.join(pkgDir("chart.js"), "dist");
  copy(mustExist(path.join(dist, "chart.umd.min.js")), path.join(out, "chart.umd.min.js"));
  // The file ends with `//# sourceMappingURL=chart.umd.min.js.map`; Django's
  // ManifestStaticFilesStorage fails collectstatic if that file is missing.
  copy(mustExist(path.join(dist, "chart.umd.min.js.map")), path.join(out, "chart.umd.min.js.map"));
  copy(licenseFile("chart.js"), path.join(out, "LICENSE"));
  // @kurkle/color is bundled inside the UMD file.
  copy(licenseFile("@kurkle/color"), path.join(out, "LICENSE-kurkle-color"));
}

function packageOf(input) {
  // "node_modules/@codemirror/view/dist/index.js" -> "@codemirror/view"
  const parts = input.split(/[\\/]/);
  const i = parts.lastIndexOf("node_modules");
  if (i < 0) return null;
  return parts[i + 1].startsWith("@") ? `${parts[i + 1]}/${parts[i + 2]}` : parts[i + 1];
}

function buildAxe(out) {
  copy(mustExist(path.join(pkgDir("axe-core"), "axe.min.js")), path.join(out, "axe.min.js"));
  copy(licenseFile("axe-core"), path.join(out, "LICENSE"));
}

async function buildCodemirror(out) {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    absWorkingDir: HERE,
    entryPoints: ["src/codemirror.js"],
    outfile: path.join(out, "codemirror.min.js"),
    bundle: true,
    format: "iife",
    globalName: "QPCodeMirror",
    minify: true,
    target: ["es2020"],
    platform: "browser",
    legalComments: "none", // licenses are written to LICENSES.txt instead
    metafile: true,
    logLevel: "warning",
  });
  copy(licenseFile("codemirror"), path.join(out, "LICENSE"));
  const pkgs = [...new Set(Object.keys(result.metafile.inputs).map(packageOf).filter(Boolean))].sort();
  const parts = [
    "Third-party code bundled into codemirror.min.js (built from frontend/src/codemirror.js with esbuild).\n",
  ];
  for (const name of pkgs) {
    parts.push(`\n${"=".repeat(72)}\n${name}@${pkgVersion(name)}\n${"=".repeat(72)}\n\n`);
    parts.push(fs.readFileSync(licenseFile(name), "utf8").trimEnd() + "\n");
  }
  fs.writeFileSync(path.join(out, "LICENSES.txt"), parts.join(""));
}

function listed(dir, libs) {
  const files = {};
  for (const lib of libs) {
    for (const rel of walk(path.join(dir, lib))) {
      files[`${lib}/${rel}`] = fs.statSync(path.join(dir, lib, rel)).size;
    }
  }
  return files;
}

// ---------------------------------------------------------------- main
async function main() {
  const t0 = Date.now();
  ensureNodeModules();
  const hash = inputHash();
  if (!FORCE && upToDate(hash)) {
    log(`static/vendor is up to date (${Date.now() - t0} ms)`);
    return;
  }

  fs.mkdirSync(VENDOR, { recursive: true });
  fs.mkdirSync(TEST_VENDOR, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(VENDOR, ".tmp-build-"));
  const testTmp = fs.mkdtempSync(path.join(TEST_VENDOR, ".tmp-build-"));
  try {
    buildKatex(path.join(tmp, "katex"));
    buildMathlive(path.join(tmp, "mathlive"));
    buildChartjs(path.join(tmp, "chartjs"));
    await buildCodemirror(path.join(tmp, "codemirror"));
    buildAxe(path.join(testTmp, "axe-core"));

    // Swap the freshly built directories into place.
    fs.rmSync(STAMP, { force: true });
    for (const [dir, built, libs] of [[VENDOR, tmp, LIBS], [TEST_VENDOR, testTmp, TEST_LIBS]]) {
      for (const lib of libs) {
        fs.rmSync(path.join(dir, lib), { recursive: true, force: true });
        fs.renameSync(path.join(built, lib), path.join(dir, lib));
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(testTmp, { recursive: true, force: true });
  }

  const files = listed(VENDOR, LIBS);
  const testFiles = listed(TEST_VENDOR, TEST_LIBS);
  const versions = Object.fromEntries(
    ["katex", "mathlive", "chart.js", "codemirror", "@codemirror/view", "@codemirror/state", "@codemirror/lang-python", "esbuild",
      "axe-core"].map((n) => [n, pkgVersion(n)]),
  );
  fs.writeFileSync(STAMP, JSON.stringify({ inputs: hash, versions, files, testFiles }, null, 2) + "\n");
  const total = Object.values(files).reduce((a, b) => a + b, 0);
  log(`built ${Object.keys(files).length} files (${(total / 1024).toFixed(0)} KiB) into static/vendor and ${Object.keys(testFiles).length} into tests/e2e/vendor in ${Date.now() - t0} ms`);
}

main().catch((err) => {
  console.error(`[frontend] build failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
