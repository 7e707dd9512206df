import { describe, expect, it } from 'vitest';
import { e2eCluster, type HostCheck } from '../support/e2e.ts';
import { bridgeName, guardChains } from '../support/node/host.ts';

// Before starting the cluster the tests share, the e2e global setup started a real-node cluster and
// stopped it, then started another in a child process and SIGKILLed that process, recording the
// host before, during and after each. What the node changed while it ran must be back as it was:
// interfaces, mounts, iptables, sysctls, network namespaces, /var/lib/cni; and nothing may run on.
function hostCheck(): HostCheck {
  const check = e2eCluster().hostCheck;
  if (!check) {
    throw new Error(
      'the host check runs only when the e2e setup starts the cluster (not with KINFER_E2E_KUBECONFIG)',
    );
  }
  return check;
}

describe('the host after a real-node cluster stopped', () => {
  it('had the node bridge, the isolation guard and forwarding on while the cluster ran', () => {
    const { before, during } = hostCheck();
    expect(before.links).not.toContain(bridgeName);
    expect(during.links).toContain(bridgeName);
    expect(during.iptables).toContain(`-A ${guardChains.out}`);
    expect(during.iptables).toMatch(/KUBE-SERVICES/);
    expect(during.sysctls['net/ipv4/ip_forward']).toBe('1');
    // Nothing masquerades the cluster's addresses towards the outside.
    expect(during.iptables).not.toMatch(/-s 198\.1[89]\.[^\n]*MASQUERADE/);
  });

  it('has ip link, iptables-save, mount, the sysctls and /var/lib/cni as they were before, after stop()', () => {
    const { before, afterStop } = hostCheck();
    expect(afterStop).toEqual([]);
    expect(before.links.length).toBeGreaterThan(0);
  });

  it('is restored too, with nothing left running, after SIGKILL of the process that started the node', () => {
    const { afterKill, leftAfterKill } = hostCheck();
    expect(leftAfterKill).toEqual([]);
    expect(afterKill).toEqual([]);
  });
});
