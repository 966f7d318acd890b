#!/usr/bin/env node
// Parse an AsyncAPI document with the official parser (@asyncapi/parser, pinned in package-lock.json)
// and print its diagnostics as one JSON document on stdout.
//
//   npm ci --prefix tools/asyncapi            # once, from the lock
//   node tools/asyncapi/validate.mjs docs/asyncapi.yaml
//
// Exit 0: no error (warnings, information and hints may remain); 1: at least one error;
// 2: the file or the parser could not be loaded (a sentence on stderr says what to do).
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const SEVERITIES = ["error", "warning", "information", "hint"];

/** One diagnostic of the parser as plain JSON: severity name, code, message, dotted path, where. */
function toJson(diagnostic) {
  const path = (diagnostic.path ?? []).map(String);
  const entry = {
    severity: SEVERITIES[diagnostic.severity] ?? String(diagnostic.severity),
    code: String(diagnostic.code ?? ""),
    message: diagnostic.message,
    path: path.join("."),
  };
  if (diagnostic.source) entry.source = diagnostic.source;
  if (diagnostic.range?.start) entry.line = diagnostic.range.start.line + 1;
  return entry;
}

/** The version of an installed package, read from its package.json next to this script's node_modules. */
function installedVersion(name) {
  const require = createRequire(import.meta.url);
  return JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")).version;
}

/** Parse the file named on the command line and report; returns the exit code. */
async function main(argv) {
  if (argv.length !== 1) {
    process.stderr.write("usage: node tools/asyncapi/validate.mjs ASYNCAPI_FILE\n");
    return 2;
  }
  const file = resolve(argv[0]);
  if (!existsSync(file)) {
    process.stderr.write(`${argv[0]} does not exist; give the path of an AsyncAPI document.\n`);
    return 2;
  }
  let parserModule;
  try {
    parserModule = await import("@asyncapi/parser");
  } catch (error) {
    process.stderr.write(`the AsyncAPI parser is not installed (${error.code ?? error.message}); `
      + "run npm ci --prefix tools/asyncapi\n");
    return 2;
  }
  const { Parser, fromFile } = parserModule.default ?? parserModule;
  const parserVersion = installedVersion("@asyncapi/parser");
  const parser = new Parser();
  // fromFile sets the document's source, so relative $refs (./schemas/*.json) resolve from its folder.
  const { document, diagnostics } = await fromFile(parser, file).parse();
  const entries = diagnostics.map(toJson);
  const counts = Object.fromEntries(SEVERITIES.map((name) => [name, entries.filter((d) => d.severity === name).length]));
  const valid = document !== undefined && counts.error === 0;
  process.stdout.write(JSON.stringify({ file: argv[0], parser: parserVersion, valid, counts, diagnostics: entries }, null, 2) + "\n");
  return valid ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
