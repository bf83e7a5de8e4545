/**
 * app/package-lock.json is the image's lock file (app/ is the build context; the repository's
 * root lock covers the whole npm workspace). This keeps it installing exactly what the root
 * lock installs, so the image runs the dependency versions the tests ran:
 *   npm run lock:image -w app           rewrite app/package-lock.json from the root lock
 * The app tests call imageLockDrift() and fail while the two disagree.
 */
import * as fs from "node:fs";
import * as path from "node:path";

type LockEntry = Record<string, unknown> & { version?: string };
interface Lock {
    packages: Record<string, LockEntry>;
}

const APP_DIR = path.resolve(__dirname, "..");
const ROOT_LOCK = path.join(APP_DIR, "..", "package-lock.json");
const IMAGE_LOCK = path.join(APP_DIR, "package-lock.json");
/** Flags that depend on which tree the package sits in, so they stay as the image lock has them. */
const TREE_FLAGS = new Set(["dev", "optional", "devOptional", "peer"]);

function readLock(file: string): Lock {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Lock;
}

/**
 * The root lock's entry for a package of the app: hoisted, nested under app/ in the workspace, or
 * nested under its one parent (the workspace nests what the image's smaller tree hoists).
 */
function rootEntry(root: Lock, key: string): LockEntry | undefined {
    const direct = root.packages[`app/${key}`] ?? root.packages[key];
    if (direct !== undefined) return direct;
    const nested = Object.keys(root.packages).filter((k) => k.endsWith(`/${key}`));
    return nested.length === 1 ? root.packages[nested[0]] : undefined;
}

/** Packages whose version in the image lock differs from the root lock's, as readable lines. */
export function imageLockDrift(root: Lock = readLock(ROOT_LOCK), image: Lock = readLock(IMAGE_LOCK)): string[] {
    const drift: string[] = [];
    for (const [key, entry] of Object.entries(image.packages)) {
        if (key === "") continue;
        const r = rootEntry(root, key);
        if (r === undefined) drift.push(`${key}: ${entry.version} in app/package-lock.json, absent from the root lock`);
        else if (r.version !== entry.version) drift.push(`${key}: ${entry.version} in app/package-lock.json, ${r.version} in the root lock`);
    }
    return drift;
}

function syncImageLock(): void {
    const root = readLock(ROOT_LOCK);
    const image = readLock(IMAGE_LOCK);
    const appManifest = JSON.parse(fs.readFileSync(path.join(APP_DIR, "package.json"), "utf8"));
    for (const field of ["dependencies", "devDependencies"]) image.packages[""][field] = appManifest[field];
    for (const [key, entry] of Object.entries(image.packages)) {
        if (key === "") continue;
        const r = rootEntry(root, key);
        if (r === undefined) throw new Error(`${key} is in app/package-lock.json but not in the root lock: run \`npm install -w app\` at the root first`);
        for (const field of Object.keys(entry)) if (!TREE_FLAGS.has(field)) delete entry[field];
        for (const [field, value] of Object.entries(r)) if (!TREE_FLAGS.has(field)) entry[field] = value;
    }
    fs.writeFileSync(IMAGE_LOCK, JSON.stringify(image, null, 2) + "\n");
    console.log(`app/package-lock.json follows the root lock (${Object.keys(image.packages).length - 1} packages)`);
}

if (require.main === module) syncImageLock();
