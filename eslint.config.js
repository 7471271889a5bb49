// Lint rules that protect architecture and performance, not style.
import tseslint from "typescript-eslint";

const rootImportMessage =
  "Import the resource from its deep path (e.g. @cdktf/provider-aws/lib/iam-role): the package root loads every resource (~3 s per synth, ~1 GB to type-check).";
// `paths` match the exact specifier, so deep imports stay allowed; `lib` alone is the root index too.
const providerRootImports = ["@cdktf/provider-aws", "@cdktf/provider-okta", "@cdktf/provider-kubernetes"].flatMap(
  (name) => [
    { name, message: rootImportMessage },
    { name: `${name}/lib`, message: rootImportMessage },
    { name: `${name}/lib/index`, message: rootImportMessage },
    { name: `${name}/lib/index.js`, message: rootImportMessage },
  ],
);

export default tseslint.config(
  { ignores: ["node_modules/**", "**/cdktf.out/**", "dist/**", ".gen/**"] },
  {
    files: ["**/*.ts"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@typescript-eslint": tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "no-restricted-imports": ["error", { paths: providerRootImports }],
      // A promise nobody awaits loses its error: an unhandled rejection in a gateway is a crash or a silent gap.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false } }],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true },
      ],
    },
  },
  {
    // DESIGN.md dependency rule: policies imports neither side.
    files: ["policies/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: providerRootImports,
          patterns: [
            {
              regex: "(^|/)(runtime|constructs)(/|$)|^(cdktf|constructs)$|^@cdktf/",
              message: "policies/ is pure: it imports neither runtime/ nor constructs/ nor cdktf.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["constructs/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: providerRootImports,
          patterns: [{ regex: "(^|/)runtime(/|$)", message: "constructs/ never imports runtime/ (DESIGN.md)." }],
        },
      ],
    },
  },
  {
    files: ["runtime/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: providerRootImports,
          patterns: [
            {
              regex: "(^|/)constructs(/|$)|^cdktf$|^@cdktf/",
              message: "runtime/ never imports constructs/ or cdktf (DESIGN.md).",
            },
          ],
        },
      ],
    },
  },
);
