import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, packArgs } from "./pack";

// Only the pack lives here: constructing a PolicyPack starts its gRPC server, so tests import ./pack instead.
new PolicyPack(PACK_NAME, packArgs);
