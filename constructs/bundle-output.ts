import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { IStackSynthesizer, ISynthesisSession, TerraformStack } from "cdktf";

/** Something that contributes a file next to the stack's cdk.tf.json. */
export interface SynthFileSource {
  /** File name inside the stack's output directory, e.g. `gateway.bundle.json`. */
  readonly fileName: string;
  /** The exact file content. */
  contents(): string;
}

const sourcesByStack = new WeakMap<TerraformStack, SynthFileSource[]>();

/**
 * Writes `source` into `cdktf.out/stacks/<stack>/` whenever the stack is synthesized, after cdktf has
 * run validations and written cdk.tf.json.
 *
 * cdktf has no public per-construct synthesis hook (its `addCustomSynthesis` is internal), but every
 * stack synthesizes through its public, replaceable `synthesizer`. The first source registered in a
 * stack wraps that synthesizer once; this works for stacks Tollgate did not create (a platform team's
 * own stack) and needs no call in the app's main.ts.
 */
export function writeOnSynth(stack: TerraformStack, source: SynthFileSource): void {
  let sources = sourcesByStack.get(stack);
  if (!sources) {
    sources = [];
    sourcesByStack.set(stack, sources);
    const inner: IStackSynthesizer = stack.synthesizer;
    const registered = sources;
    stack.synthesizer = {
      synthesize(session: ISynthesisSession): void {
        inner.synthesize(session);
        const directory = join(session.outdir, session.manifest.forStack(stack).workingDirectory);
        mkdirSync(directory, { recursive: true });
        for (const file of registered) writeFileSync(join(directory, file.fileName), file.contents());
      },
    };
  }
  if (sources.some((s) => s.fileName === source.fileName)) {
    throw new Error(
      `two constructs in stack "${stack.node.id}" write ${source.fileName}: give the gateways different ids`,
    );
  }
  sources.push(source);
}
