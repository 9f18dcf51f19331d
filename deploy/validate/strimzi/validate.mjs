// Validates Strimzi custom resources offline, two ways, both generated from Strimzi's CRDs by
// @kubernetes-models/strimzi-kafka-operator:
//   1. each resource against its CRD's OpenAPI schema (types, enums, patterns, ranges);
//   2. the TypeScript compiler against the CRD's types, whose excess-property check refuses
//      fields the CRD does not define (a misspelt key would otherwise be pruned silently).
// Usage: node validate.mjs RESOURCES.json   (a JSON array of resources)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const models = "@kubernetes-models/strimzi-kafka-operator";
const resources = JSON.parse(readFileSync(process.argv[2], "utf8"));

function modelPath(resource) {
  const [group, version] = resource.apiVersion.split("/");
  return `${models}/${group}/${version}/${resource.kind}`;
}

function describe(resource) {
  return `${resource.kind}/${resource.metadata?.name} (${resource.apiVersion})`;
}

let failures = 0;
for (const resource of resources) {
  let Model;
  try {
    Model = (await import(modelPath(resource)))[resource.kind];
  } catch {
    console.error(`${describe(resource)}: no schema for this kind and version`);
    failures++;
    continue;
  }
  try {
    new Model(resource).validate();
  } catch (error) {
    console.error(`${describe(resource)}: ${error.message}`);
    failures++;
  }
}

// One typed constant per resource; tsc reports any property the CRD's type lacks.
const work = mkdtempSync(join(tmpdir(), "strimzi-check-"));
try {
  const lines = resources.map((resource, index) => {
    const type = `I${resource.kind}`;
    return (
      `import type { ${type} as T${index} } from "${modelPath(resource)}";\n` +
      `// ${describe(resource)}\n` +
      `export const r${index}: T${index} = ${JSON.stringify(resource, null, 2)};\n`
    );
  });
  writeFileSync(join(work, "resources.ts"), lines.join("\n"));
  writeFileSync(
    join(work, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: "esnext",
        moduleResolution: "bundler",
        target: "es2022",
        skipLibCheck: true,
        types: [],
        paths: { "@kubernetes-models/*": [join(here, "node_modules/@kubernetes-models/*")] },
      },
      files: ["resources.ts"],
    }),
  );
  try {
    execFileSync(join(here, "node_modules/.bin/tsc"), ["-p", work], { encoding: "utf8" });
  } catch (error) {
    // The generated file's comments name the resource above each reported line.
    console.error(`types: ${error.stdout || error.message}`);
    const source = readFileSync(join(work, "resources.ts"), "utf8").split("\n");
    for (const match of (error.stdout || "").matchAll(/resources\.ts\((\d+),/g)) {
      const line = Number(match[1]);
      const header = source.slice(0, line).reverse().find((text) => text.startsWith("// "));
      if (header) console.error(`  in ${header.slice(3)}`);
    }
    failures++;
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (failures) process.exit(1);
console.log(`strimzi: ${resources.length} resources valid (schema and fields)`);
