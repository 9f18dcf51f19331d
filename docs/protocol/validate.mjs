// Parses and validates an AsyncAPI document offline; exits non-zero on any error-level finding.
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";

const path = process.argv[2] ?? "asyncapi.yaml";
const parser = new Parser();
const { document, diagnostics } = await parser.parse(await readFile(path, "utf8"));
// Spectral severities: 0 error, 1 warning, 2 info, 3 hint.
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of diagnostics.filter((d) => d.severity <= 1)) {
  console.log(`${d.severity === 0 ? "error" : "warning"} ${d.path.join(".")}: ${d.message}`);
}
if (!document || errors.length > 0) {
  console.error(`${path}: invalid (${errors.length} errors)`);
  process.exit(1);
}
console.log(
  `${path}: valid AsyncAPI ${document.version()}, ${document.channels().length} channels, ` +
    `${document.operations().length} operations, ${document.messages().length} messages`,
);
