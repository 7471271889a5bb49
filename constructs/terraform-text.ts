/**
 * Terraform reads `${…}` and `%{…}` in a string literal as a template; text that must reach a resource
 * unchanged (the bundle, a dashboard's `${datasource}`) is escaped to `$${…}` and `%%{…}`.
 */
export function escapeTerraformTemplate(text: string): string {
  // Replacement functions, not strings: in a replacement string `$$` stands for one `$`.
  return text.replaceAll("${", () => "$${").replaceAll("%{", () => "%%{");
}
