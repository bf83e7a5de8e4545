import { PolicyPackArgs } from "@pulumi/policy";
import { devsecopsPolicies } from "./policies";

/** The name the organisation knows the pack by (`pulumi policy enable <org>/devsecops-stack`). */
export const PACK_NAME = "devsecops-stack";

/** The pack's arguments, apart from the PolicyPack that serves them, so the offline gate and tests evaluate exactly these. */
export const packArgs: PolicyPackArgs = {
    policies: devsecopsPolicies,
    // Each policy sets its own level; this only applies to one that forgets.
    enforcementLevel: "advisory",
};
