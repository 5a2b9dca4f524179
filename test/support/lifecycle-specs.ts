/** Reading the specs that synthesized lifecycle resources hold. */

/** A stack's `terraform_data` resources by name: the spec where one is held, else the triggers. */
export function lifecycleSpecs(resources: Record<string, any>): Record<string, any> {
  return Object.fromEntries(Object.entries(resources).map(([name, r]) => [name, r.triggers_replace.spec ? JSON.parse(r.triggers_replace.spec) : r.triggers_replace]));
}
