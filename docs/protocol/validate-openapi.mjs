// Validates an OpenAPI document offline against the OpenAPI schema; exits non-zero when invalid.
import SwaggerParser from "@apidevtools/swagger-parser";

const path = process.argv[2] ?? "openapi.yaml";
try {
  const api = await SwaggerParser.validate(path);
  const operations = Object.values(api.paths ?? {}).flatMap((item) =>
    ["get", "put", "post", "patch", "delete"].filter((method) => item[method]),
  );
  console.log(`${path}: valid OpenAPI ${api.openapi}, ${operations.length} operations`);
} catch (error) {
  console.error(`${path}: invalid: ${error.message}`);
  process.exit(1);
}
