import { expect } from "chai";
import { packArgs } from "../../policy/pack";
import { messagesOf, resource as res } from "./fixtures";
import { EvaluatedResource } from "../../scripts/policy/evaluate";

/**
 * Issue 15: every Checkov id the pack claims, with a case Checkov fails and one it passes, each
 * evaluated by the policy that claims the id. Checkov's definitions were read in its source
 * (bridgecrewio/checkov, checkov/terraform/checks/…); the table below says which check each case
 * mirrors, and a claim without a row here fails the last test.
 */

const doc = (...Statement: any[]) => JSON.stringify({ Version: "2012-10-17", Statement });
const RP = "aws:iam/rolePolicy:RolePolicy";
const ROLE = "aws:iam/role:Role";
const SG = "aws:ec2/securityGroup:SecurityGroup";
const ASG = "aws:autoscaling/group:Group";
const LT = "aws:ec2/launchTemplate:LaunchTemplate";
const GH = "token.actions.githubusercontent.com";
const ghTrust = (condition?: Record<string, any>) =>
    res(ROLE, { assumeRolePolicy: doc({ Sid: "G", Effect: "Allow", Principal: { Federated: `arn:aws:iam::111122223333:oidc-provider/${GH}` }, Action: "sts:AssumeRoleWithWebIdentity", ...(condition ? { Condition: condition } : {}) }) });
const ghSub = (sub: string | string[]) => ghTrust({ StringEquals: { [`${GH}:aud`]: "sts.amazonaws.com" }, StringLike: { [`${GH}:sub`]: sub } });

interface ClaimCase {
    id: string;
    policy: string;
    bad: () => EvaluatedResource[];
    good: () => EvaluatedResource[];
}

const CASES: ClaimCase[] = [
    // cloudsplaining's PRIVILEGE_ESCALATION_METHODS over the actions a document allows on Resource "*".
    { id: "CKV_AWS_286", policy: "iam-no-privilege-escalation", bad: () => [res(RP, { policy: doc({ Effect: "Allow", Action: ["iam:PassRole", "ec2:RunInstances"], Resource: "*" }) })], good: () => [res(RP, { policy: doc({ Effect: "Allow", Action: ["iam:PassRole", "ec2:RunInstances"], Resource: "arn:aws:iam::111122223333:role/app" }) })] },
    // Actions that return credentials, on "*" (Checkov excludes ecr:GetAuthorizationToken).
    { id: "CKV_AWS_287", policy: "iam-no-privilege-escalation", bad: () => [res(RP, { policy: doc({ Effect: "Allow", Action: "sts:AssumeRole", Resource: "*" }) })], good: () => [res(RP, { policy: doc({ Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" }) })] },
    // READ_ONLY_DATA_EXFILTRATION_ACTIONS on "*", wildcards expanded.
    { id: "CKV_AWS_288", policy: "iam-no-data-read-on-wildcard", bad: () => [res(RP, { policy: doc({ Effect: "Allow", Action: "ssm:GetParam*", Resource: "*" }) })], good: () => [res(RP, { policy: doc({ Effect: "Allow", Action: "ssm:GetParameter", Resource: "arn:aws:ssm:eu-west-1:111122223333:parameter/app/*" }) })] },
    // IAMPolicyNotAllowFullIAMAccess.yaml: no Allow of iam:*.
    { id: "CKV2_AWS_40", policy: "iam-no-data-read-on-wildcard", bad: () => [res(RP, { policy: doc({ Effect: "Allow", Action: "iam:*", Resource: "arn:aws:iam::111122223333:role/x" }) })], good: () => [res(RP, { policy: doc({ Effect: "Allow", Action: "iam:GetRole", Resource: "arn:aws:iam::111122223333:role/x" }) })] },
    // IAMDoNotUseAdministratorAccessPolicy.yaml.
    { id: "CKV2_AWS_51", policy: "iam-no-wildcard-action", bad: () => [res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", { role: "r", policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" })], good: () => [res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", { role: "r", policyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess" })] },
    // GithubActionsOIDCTrustPolicy.py: a condition, a sub, and no wildcard, bare or abusable claim.
    { id: "CKV_AWS_358", policy: "iam-trust-policy-scoped", bad: () => [ghSub("repo:*")], good: () => [ghSub("repo:acme/app:ref:refs/heads/main")] },
    // SG ingress from 0.0.0.0/0 on all ports (-1).
    { id: "CKV_AWS_277", policy: "sg-no-open-ingress", bad: () => [res(SG, { ingress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }] })], good: () => [res(SG, { ingress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["10.0.0.0/16"] }] })] },
    // AutoScalingLaunchTemplate.py: the group launches from a launch template.
    { id: "CKV_AWS_315", policy: "asg-launch-template", bad: () => [res(ASG, { launchConfiguration: "lc-1", minSize: 1, maxSize: 2 })], good: () => [res(ASG, { launchTemplate: { id: "lt-1", version: "3" }, minSize: 1, maxSize: 2 })] },
    // AutoScallingEnabledELB.yaml (narrowed to target groups): ELB health checks behind a load balancer.
    { id: "CKV2_AWS_15", policy: "asg-elb-health-check", bad: () => [res(ASG, { targetGroupArns: ["tg"], healthCheckType: "EC2" })], good: () => [res(ASG, { targetGroupArns: ["tg"], healthCheckType: "ELB" })] },
    // Disallow AdministratorAccess on roles (role.managedPolicyArns too).
    { id: "CKV_AWS_274", policy: "iam-no-wildcard-action", bad: () => [res(ROLE, { assumeRolePolicy: "{}", managedPolicyArns: ["arn:aws:iam::aws:policy/AdministratorAccess"] })], good: () => [res(ROLE, { assumeRolePolicy: "{}", managedPolicyArns: ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"] })] },
    // Resource policies that allow any principal: bucket (70), topic (169), repository (32).
    { id: "CKV_AWS_70", policy: "resource-policy-not-public", bad: () => [res("aws:s3/bucketPolicy:BucketPolicy", { bucket: "b", policy: doc({ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*" }) })], good: () => [res("aws:s3/bucketPolicy:BucketPolicy", { bucket: "b", policy: doc({ Effect: "Deny", Principal: "*", Action: "s3:*", Resource: "arn:aws:s3:::b/*", Condition: { Bool: { "aws:SecureTransport": "false" } } }, { Effect: "Allow", Principal: { Service: "cloudtrail.amazonaws.com" }, Action: "s3:PutObject", Resource: "arn:aws:s3:::b/*" }) })] },
    { id: "CKV_AWS_169", policy: "resource-policy-not-public", bad: () => [res("aws:sns/topicPolicy:TopicPolicy", { arn: "t", policy: doc({ Effect: "Allow", Principal: { AWS: "*" }, Action: "sns:Publish", Resource: "t" }) })], good: () => [res("aws:sns/topicPolicy:TopicPolicy", { arn: "t", policy: doc({ Effect: "Allow", Principal: { AWS: "*" }, Action: "sns:Publish", Resource: "t", Condition: { StringEquals: { "aws:SourceAccount": "111122223333" } } }) })] },
    { id: "CKV_AWS_32", policy: "resource-policy-not-public", bad: () => [res("aws:ecr/repositoryPolicy:RepositoryPolicy", { repository: "r", policy: doc({ Effect: "Allow", Principal: "*", Action: "ecr:BatchGetImage" }) })], good: () => [res("aws:ecr/repositoryPolicy:RepositoryPolicy", { repository: "r", policy: doc({ Effect: "Allow", Principal: { AWS: "arn:aws:iam::111122223333:root" }, Action: "ecr:BatchGetImage" }) })] },
    // Every security group rule has a description.
    { id: "CKV_AWS_23", policy: "sg-rule-descriptions", bad: () => [res(SG, { ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, securityGroups: ["sg-1"] }] }), res("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", { securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: "10.0.0.0/16" })], good: () => [res(SG, { ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, securityGroups: ["sg-1"], description: "HTTPS from the load balancer" }] })] },
    // HTTP/HTTPS target groups define a health check.
    { id: "CKV_AWS_261", policy: "target-group-health-check", bad: () => [res("aws:lb/targetGroup:TargetGroup", { port: 3000, protocol: "HTTP", vpcId: "v" })], good: () => [res("aws:lb/targetGroup:TargetGroup", { port: 3000, protocol: "HTTP", vpcId: "v", healthCheck: { enabled: true, path: "/health", matcher: "200" } })] },
    // LaunchTemplate hop limit > 1.
    { id: "CKV_AWS_341", policy: "ec2-metadata-hop-limit", bad: () => [res(LT, { metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 2 } })], good: () => [res(LT, { metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 1 } })] },
];

describe("policy pack: each claimed Checkov id, a case Checkov fails and one it passes (issue 15)", () => {
    for (const c of CASES) {
        it(`${c.id} (${c.policy})`, () => {
            expect(messagesOf(c.policy, c.bad()), "bad case").to.have.length.greaterThan(0);
            expect(messagesOf(c.policy, c.good()), "good case").to.deep.equal([]);
        });
    }

    it("CKV_AWS_358 in full: no condition, no sub, sub *, a bare claim, claim:*, abusable claims and a malformed repo fail; org/repo claims pass", () => {
        const fails = (r: EvaluatedResource) => messagesOf("iam-trust-policy-scoped", [r]).length > 0;
        expect(fails(ghTrust())).to.equal(true);
        expect(fails(ghTrust({ StringEquals: { [`${GH}:aud`]: "sts.amazonaws.com" } }))).to.equal(true);
        for (const sub of ["*", "repo", "repo:*", "environment:prod", "ref:refs/heads/main", "workflow:deploy", "repo:acme"]) expect(fails(ghSub(sub)), sub).to.equal(true);
        for (const sub of ["repo:acme/app:*", "repo:acme/app:environment:prod", "repo:acme.io/app:pull_request", ["repo:acme/app:ref:refs/heads/main", "repo:acme/infra:ref:refs/heads/main"]]) expect(fails(ghSub(sub)), String(sub)).to.equal(false);
    });

    it("CKV_AWS_286 reads combinations across the document's statements, and resource-scoped grants are not escalation", () => {
        const split = doc({ Effect: "Allow", Action: "iam:PassRole", Resource: "*" }, { Effect: "Allow", Action: ["lambda:CreateFunction", "lambda:InvokeFunction"], Resource: "*" });
        expect(messagesOf("iam-no-privilege-escalation", [res(RP, { policy: split })]).join("\n")).to.contain("PassExistingRoleToNewLambdaThenInvoke");
        expect(messagesOf("iam-no-privilege-escalation", [res(RP, { policy: doc({ Effect: "Allow", Action: "iam:*", Resource: "*" }) })]).join("\n")).to.contain("CreateAccessKey");
        // PutRolePolicy escalates only together with sts:AssumeRole (cloudsplaining's method); alone on "*" the write policy catches it.
        expect(messagesOf("iam-no-privilege-escalation", [res(RP, { policy: doc({ Effect: "Allow", Action: "iam:PutRolePolicy", Resource: "*" }) })])).to.deep.equal([]);
    });

    it("every Checkov id the pack claims has a row here or in the per-policy suites, and no row names an id its policy does not claim", () => {
        const claims = new Map<string, Set<string>>();
        for (const p of packArgs.policies) {
            const ids = String((p as any).controls.checkov ?? "").match(/CKV2?_AWS_\d+/g) ?? [];
            for (const id of ids) claims.set(id, new Set([...(claims.get(id) ?? []), p.name]));
        }
        for (const c of CASES) expect(claims.get(c.id), `${c.id} claimed by ${c.policy}`).to.include(c.policy);
        // Ids whose bad and good cases live in policies.test.ts / breadth.test.ts (one it() per policy there).
        const elsewhere = [
            "CKV2_AWS_6", "CKV2_AWS_2", "CKV_AWS_145", "CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "CKV_AWS_379", "CKV_AWS_21", "CKV2_AWS_65", "CKV_AWS_18", "CKV_AWS_300", "CKV2_AWS_61",
            "CKV_AWS_67", "CKV_AWS_36", "CKV_AWS_35", "CKV2_AWS_10", "CKV_AWS_79", "CKV_AWS_3", "CKV_AWS_8", "CKV_AWS_88", "CKV_AWS_130", "CKV_AWS_46",
            "CKV2_AWS_41", "CKV_AWS_189", "CKV_AWS_149", "CKV_AWS_252", "CKV_AWS_24", "CKV_AWS_25", "CKV2_AWS_12", "CKV_AWS_62", "CKV_AWS_63", "CKV_AWS_290",
            "CKV_AWS_289", "CKV_AWS_60", "CKV_AWS_163", "CKV_AWS_51", "CKV_AWS_136", "CKV_AWS_66", "CKV_AWS_338", "CKV_AWS_158", "CKV2_AWS_57", "CKV_AWS_304",
            "CKV_AWS_26", "CKV_AWS_7", "CKV_AWS_33", "CKV2_AWS_64", "CKV_AWS_131", "CKV_AWS_328", "CKV_AWS_91", "CKV_AWS_103", "CKV_AWS_2", "CKV2_AWS_20",
            "CKV2_AWS_28", "CKV_AWS_238", "CKV2_AWS_11",
        ];
        const covered = new Set([...CASES.map((c) => c.id), ...elsewhere]);
        expect([...claims.keys()].filter((id) => !covered.has(id)).sort(), "claimed ids without a case").to.deep.equal([]);
        expect(elsewhere.filter((id) => !claims.has(id)), "listed ids no policy claims").to.deep.equal([]);
    });
});
