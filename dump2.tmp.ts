import { runStack } from "./scripts/stackUnderMocks";
import { checkDeployability } from "./deployability";
import { hostViews } from "./deployability/hostRoles";
import { requiredActions } from "./deployability/bootPermissions";
(async () => {
  const run = await runStack({ stack: process.argv[2] ?? "prod" });
  for (const f of checkDeployability(run.resources)) console.log(f.check, f.resource, "-", f.message);
  for (const v of hostViews(run.resources)) console.log(v.host.name, v.role?.name, v.rolePolicies.map(p=>p.name), v.bootTexts.length, [...requiredActions(v.bootTexts)]);
})();
