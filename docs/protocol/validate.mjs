// Validates the protocol's machine-readable documents offline: each AsyncAPI document with the
// AsyncAPI parser, each OpenAPI document against the OpenAPI schema; exits non-zero on any
// error-level finding in any of them.
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";
import SwaggerParser from "@apidevtools/swagger-parser";

async function checkAsyncApi(path, text) {
  const { document, diagnostics } = await new Parser().parse(text);
  // Spectral severities: 0 error, 1 warning, 2 info, 3 hint.
  const errors = diagnostics.filter((d) => d.severity === 0);
  for (const d of diagnostics.filter((d) => d.severity <= 1)) {
    console.log(`${d.severity === 0 ? "error" : "warning"} ${d.path.join(".")}: ${d.message}`);
  }
  if (!document || errors.length > 0) {
    console.error(`${path}: invalid (${errors.length} errors)`);
    return false;
  }
  console.log(
    `${path}: valid AsyncAPI ${document.version()}, ${document.channels().length} channels, ` +
      `${document.operations().length} operations, ${document.messages().length} messages`,
  );
  return true;
}

async function checkOpenApi(path) {
  try {
    const api = await SwaggerParser.validate(path);
    const operations = Object.values(api.paths ?? {}).flatMap((item) => Object.keys(item));
    console.log(`${path}: valid OpenAPI ${api.openapi}, ${operations.length} operations`);
    return true;
  } catch (error) {
    console.error(`${path}: invalid: ${error.message}`);
    return false;
  }
}

const paths = process.argv.slice(2);
let valid = paths.length > 0;
for (const path of paths) {
  const text = await readFile(path, "utf8");
  const openapi = /^openapi:/m.test(text);
  valid = (openapi ? await checkOpenApi(path) : await checkAsyncApi(path, text)) && valid;
}
if (!valid) process.exit(1);
