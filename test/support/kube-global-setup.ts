// Placeholder until the control-plane harness lands (issue 4): the kube project has no tests yet.
export default async function setup(): Promise<void> {}
