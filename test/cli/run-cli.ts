/** Runs `tollgate <args>` in-process (the same `main` the binary runs) and captures what it prints. */
import { main } from "../../runtime/cli/main.js";

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCli(args: string[]): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const write = process.stdout.write.bind(process.stdout);
  const log = console.log;
  const error = console.error;
  process.stdout.write = ((chunk: string) => ((stdout += chunk), true)) as typeof process.stdout.write;
  console.log = (...a: unknown[]) => void (stdout += `${a.join(" ")}\n`);
  console.error = (...a: unknown[]) => void (stderr += `${a.join(" ")}\n`);
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    process.stdout.write = write;
    console.log = log;
    console.error = error;
  }
}
