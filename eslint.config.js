// Lint rules that protect architecture and performance, not style.
import tseslint from "typescript-eslint";

const providerRootImport = {
  group: ["@cdktf/provider-aws", "@cdktf/provider-okta", "@cdktf/provider-kubernetes"],
  message:
    "Import the resource from its deep path (e.g. @cdktf/provider-aws/lib/iam-role): the package root loads every resource (~3 s per synth, ~1 GB to type-check).",
};

export default tseslint.config(
  { ignores: ["node_modules/**", "**/cdktf.out/**", "dist/**", ".gen/**"] },
  {
    files: ["**/*.ts"],
    languageOptions: { parser: tseslint.parser },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {
      "no-restricted-imports": ["error", { patterns: [providerRootImport] }],
    },
  },
  {
    // DESIGN.md dependency rule: policies imports neither side.
    files: ["policies/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            providerRootImport,
            { group: ["**/runtime/**", "**/constructs/**", "cdktf", "constructs", "@cdktf/*"], message: "policies/ is pure: it imports neither runtime/ nor constructs/ nor cdktf." },
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
        { patterns: [providerRootImport, { group: ["**/runtime/**"], message: "constructs/ never imports runtime/ (DESIGN.md)." }] },
      ],
    },
  },
  {
    files: ["runtime/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            providerRootImport,
            { group: ["**/constructs/**", "cdktf", "@cdktf/*"], message: "runtime/ never imports constructs/ or cdktf (DESIGN.md)." },
          ],
        },
      ],
    },
  },
);
