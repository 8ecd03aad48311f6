// Which compiled build is running: `npm run build` defines __KICKSTAND_BUILD_ID__ (a digest of the
// sources and the lockfile) in the bundle; run from source (tsx) or from tsc's unbundled output it
// is null. Caches of derived data (the resolved profile set) are kept only under a build id, so a
// change of code never reads what older code wrote.
declare const __KICKSTAND_BUILD_ID__: string | undefined;

export const BUILD_ID: string | null = typeof __KICKSTAND_BUILD_ID__ === 'string' ? __KICKSTAND_BUILD_ID__ : null;
