/**
 * What the nodes download and run as root, pinned in one place: the K3s release binary by
 * version and sha256, and the kubelet ECR credential provider by version (and sha256 where a
 * published sum could be traced). The user data (cdk/userdata/*.sh) verifies every pinned download
 * against its sum before anything runs it, and writes the K3s systemd unit itself: no install
 * script (get.k3s.io) is fetched or run. docs/SECURITY_CHECKLIST.md lists the property and its test.
 *
 * Every sum here names where it was read. A version without a traceable sum is not added: pass
 * its sum with the `k3sSha256` context instead, after checking it against the release's
 * `sha256sum-amd64.txt`.
 */

/** A pinned download: its URL for a version, the expected sha256 (hex), and where the sum was read. */
export interface PinnedBinary {
  readonly version: string;
  readonly url: string;
  /** Lower-case hex sha256 of the file at `url`; undefined when no sum could be traced. */
  readonly sha256: string | undefined;
  /** Where the sum comes from (or why there is none). */
  readonly source: string;
}

/** The amd64 K3s release binaries with a known sum, by version. */
export const K3S_AMD64_SHA256: Readonly<Record<string, { sha256: string; source: string }>> = {
  'v1.31.4+k3s1': {
    sha256: '74897e4af26ea383ce50f445752f40ca63a0aef0d90994fb74073c43063eeeb2',
    source:
      'the release checksum file https://github.com/k3s-io/k3s/releases/download/v1.31.4+k3s1/sha256sum-amd64.txt, ' +
      'as copied into github.com/andrewrothstein/ansible-k3s defaults/main.yml (commit 1496b9e5f5065febcea5ed50287b7e4bc919b8a6); ' +
      'the same sum is the default checksum of a public Puppet k3s module for v1.31.4+k3s1',
  },
};

/** The K3s release binary of `version` (amd64), its sum from {@link K3S_AMD64_SHA256} unless `sha256` is given. */
export function k3sBinary(version: string, sha256?: string): PinnedBinary {
  const known = K3S_AMD64_SHA256[version];
  return {
    version,
    url: `https://github.com/k3s-io/k3s/releases/download/${encodeURIComponent(version)}/k3s`,
    sha256: sha256 ?? known?.sha256,
    source: sha256 ? 'the k3sSha256 context' : (known?.source ?? 'none'),
  };
}

/**
 * The kubelet ECR credential provider (cloud-provider-aws) installed on workers, matching the
 * K3s minor. No published sha256 of this binary could be traced (artifacts.k8s.io publishes one
 * next to the binary, but no copy of it was readable here), so it is downloaded over HTTPS from
 * the Kubernetes artifact host and not verified by sum; the worker logs that. It only serves image
 * pulls from private ECR repositories, and a node joins without it.
 */
export const ECR_CREDENTIAL_PROVIDER: PinnedBinary = {
  version: 'v1.31.1',
  url: 'https://artifacts.k8s.io/binaries/cloud-provider-aws/v1.31.1/linux/amd64/ecr-credential-provider-linux-amd64',
  sha256: undefined,
  source: 'none traced: no copy of the published sum was found in the sources this project can read',
};
