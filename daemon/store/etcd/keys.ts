/**
 * The keys of a cluster in etcd, under `<prefix>/<cluster>/`.
 * @module
 */
export const keys = {
  /** The namespace of one cluster. */
  root: (prefix: string, cluster: string) => `${prefix}/${cluster}/`,
  /** Present while the node's lease lives. */
  node: (node: string) => `nodes/${node}`,
  owners: "owners/",
  owner: (name: string) => `owners/${name}`,
  checkpoint: (name: string) => `checkpoints/${name}`,
  config: "config",
} as const;
