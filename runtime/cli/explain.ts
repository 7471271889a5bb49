/** `tollgate explain`: placeholder until policies/tools settles; see the full version below. */
export async function explainCommand(_args: string[]): Promise<number> {
  console.error("tollgate explain: not implemented yet");
  return 1;
}
