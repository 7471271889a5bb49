/** `dev`, `local` and `dev-*` environments may use image tags and plain http; every other environment may not. */
export function isDevEnvironment(environment: string): boolean {
  return environment === "dev" || environment === "local" || environment.startsWith("dev-");
}
