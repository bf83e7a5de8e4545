import { PolicyPack } from "@pulumi/policy";
import { devsecopsPolicies } from "./policies";

// The pack only assembles the policies; they live in policies.ts so tests import them without starting a pack.
new PolicyPack("devsecops-stack", { policies: devsecopsPolicies });
