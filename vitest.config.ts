import { defineConfig } from 'vitest/config';
import { applyOnnxruntimeTelemetrySetting } from './src/cli/telemetry.ts';

// Tests load onnxruntime in vitest's own workers too: its telemetry is off there as in kinfer
// (set here, in the main process, so every worker and child process inherits it).
applyOnnxruntimeTelemetrySetting();

// Four projects, so each test only pays for what it needs:
// - unit: pure functions, no I/O beyond reading committed files;
// - server: real runtime/operator servers and browsers on loopback;
// - kube: a real control plane (kube-apiserver, etcd, controller manager, scheduler, kwok),
//   started once by the global setup and shared by every file;
// - e2e: a cluster with a real node (containerd, kubelet, kube-proxy, CoreDNS) running the kinfer
//   image built from the Dockerfile; real pods, started once by its global setup (needs root).
export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'server',
          include: ['test/server/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'kube',
          include: ['test/kube/**/*.test.ts'],
          globalSetup: ['test/support/kube-global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/e2e-global-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
