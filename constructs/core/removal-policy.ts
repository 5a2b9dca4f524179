/** What happens to the remote object when its construct leaves the stack or the stack is destroyed. */
export enum RemovalPolicy {
  /** Delete the remote object. */
  DESTROY = 'destroy',
  /** Keep the remote object; pgstacks only forgets it. */
  RETAIN = 'retain',
}
