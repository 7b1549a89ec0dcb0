//! A realistic province for load and scale tests, built through the service's own domain
//! code (every rule and the audit chain apply), deterministic from a seed.

use std::time::Instant;

use chrono::NaiveDate;

use crate::auth::{Principal, Role};
use crate::catalogue::{Edition, ItemInput, Items, LegalBasis, NewEdition, Responsibility};
use crate::claims::{Action, ChangeRequest, Claims, NewRound, Round};
use crate::db::Db;
use crate::duties::{DepartmentDuties, DutyLists, MatterInput};
use crate::error::{AppError, AppResult};
use crate::organisations::{Organisation, OrganisationInput, OrganisationKind};
use crate::publication::{
    Decision, ListKind, Publication, PublishInput, ReviewInput, Stage, SubmitInput, VersionKey,
    Versions,
};
use crate::regions::{Region, RegionCode, RegionInput};

/// How big a province to build.
#[derive(Debug, Clone)]
pub struct Scale {
    /// Cities.
    pub cities: usize,
    /// Counties per city.
    pub counties_per_city: usize,
    /// Townships per county (varies ±3 around this).
    pub townships_per_county: usize,
    /// Catalogue items (a quarter statutory).
    pub items: usize,
    /// Matters per responsibility list.
    pub matters: usize,
}

impl Scale {
    /// ~20 cities, ~180 counties, ~3,000 townships, 400 items, 70 matters.
    pub fn province() -> Scale {
        Scale {
            cities: 20,
            counties_per_city: 9,
            townships_per_county: 17,
            items: 400,
            matters: 70,
        }
    }

    /// A small province for quick runs and tests.
    pub fn small() -> Scale {
        Scale {
            cities: 2,
            counties_per_city: 2,
            townships_per_county: 4,
            items: 60,
            matters: 12,
        }
    }
}

/// What was built and how long it took.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GenerationReport {
    /// The seed.
    pub seed: u64,
    /// Backend.
    pub backend: String,
    /// Counties.
    pub counties: usize,
    /// Townships.
    pub townships: usize,
    /// Organisations.
    pub organisations: usize,
    /// Catalogue items.
    pub items: usize,
    /// Claims answered.
    pub claims: usize,
    /// Matters.
    pub matters: usize,
    /// Versions published.
    pub publications: usize,
    /// Seconds per phase.
    pub phases: Vec<(String, f64)>,
    /// Total seconds.
    pub seconds: f64,
    /// Database size in bytes.
    pub database_bytes: u64,
}

/// SplitMix64: small, fast and the same everywhere, so a seed always builds the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const SYLLABLES: [&str; 40] = [
    "安", "宝", "长", "成", "大", "德", "东", "丰", "福", "高", "光", "广", "和", "河", "红", "华",
    "金", "景", "乐", "龙", "隆", "明", "南", "宁", "平", "清", "仁", "荣", "瑞", "山", "石", "顺",
    "太", "天", "文", "西", "兴", "永", "玉", "中",
];

const SECTORS: [(&str, &str); 16] = [
    ("natural_resources", "自然资源和规划局"),
    ("ecology_environment", "生态环境局"),
    ("housing_construction", "住房和城乡建设局"),
    ("agriculture_rural", "农业农村局"),
    ("market_regulation", "市场监督管理局"),
    ("emergency_management", "应急管理局"),
    ("comprehensive_enforcement", "综合行政执法局"),
    ("water_resources", "水利局"),
    ("health", "卫生健康局"),
    ("civil_affairs", "民政局"),
    ("public_security", "公安局"),
    ("human_resources", "人力资源和社会保障局"),
    ("education", "教育局"),
    ("transport", "交通运输局"),
    ("culture_tourism", "文化广播电视和旅游局"),
    ("forestry", "林业局"),
];

const SUBJECTS: [&str; 24] = [
    "违法建设",
    "占道经营",
    "餐饮油烟",
    "建筑垃圾",
    "秸秆焚烧",
    "河道采砂",
    "噪声扰民",
    "食品摊贩",
    "燃气安全",
    "畜禽养殖",
    "农药经营",
    "户外广告",
    "渣土运输",
    "森林防火",
    "宅基地",
    "农村供水",
    "特困供养",
    "最低生活保障",
    "殡葬管理",
    "消防通道",
    "电动车充电",
    "饮用水源",
    "野生动物",
    "耕地保护",
];

const CATEGORY_VERBS: [(&str, &str); 11] = [
    ("01", "许可"),
    ("02", "行政处罚"),
    ("03", "行政强制措施"),
    ("04", "征收"),
    ("05", "给付"),
    ("06", "监督检查"),
    ("07", "确认"),
    ("08", "奖励"),
    ("09", "裁决"),
    ("10", "备案"),
    ("20", "服务"),
];

const LAWS: [&str; 8] = [
    "《中华人民共和国行政处罚法》",
    "《中华人民共和国城乡规划法》",
    "《中华人民共和国大气污染防治法》",
    "《中华人民共和国土地管理法》",
    "《中华人民共和国食品安全法》",
    "《中华人民共和国安全生产法》",
    "《城市市容和环境卫生管理条例》",
    "《四川省城乡环境综合治理条例》",
];

fn name(rng: &mut Rng, suffix: &str) -> String {
    format!("{}{}{}", rng.pick(&SYLLABLES), rng.pick(&SYLLABLES), suffix)
}

/// The code suffix of a county's organisation of a stage-holding kind.
fn holder_suffix(kind: OrganisationKind) -> &'static str {
    match kind {
        OrganisationKind::JusticeBureau => "sfj",
        OrganisationKind::StaffingOffice => "bb",
        OrganisationKind::ApprovalBureau => "spj",
        _ => "gov",
    }
}

fn actor(sub: &str, org: &str, region: &RegionCode, roles: &[Role]) -> Principal {
    Principal {
        sub: sub.into(),
        org: org.into(),
        region: region.clone(),
        roles: roles.to_vec(),
    }
}

/// The county's compiler, as the generator registers it (`{county}-gov`).
fn compiler_of(county: &RegionCode) -> Principal {
    let org = format!("{}-gov", county.scope_prefix());
    actor("compiler", &org, county, &[Role::CountyCompiler])
}

fn catalogue_items(rng: &mut Rng, count: usize) -> Vec<(usize, ItemInput)> {
    (0..count)
        .map(|i| {
            let (category, verb) = CATEGORY_VERBS[if i % 3 == 0 {
                1
            } else {
                i % CATEGORY_VERBS.len()
            }];
            let (sector, _) = SECTORS[rng.below(SECTORS.len())];
            let subject = rng.pick(&SUBJECTS);
            let statutory = i % 4 == 3;
            let law = rng.pick(&LAWS);
            ItemInput {
                code: format!("SC-{category}-{i:04}"),
                name: format!("对{subject}的{verb}（第{i}项）"),
                category: category.into(),
                source: if statutory { "statutory" } else { "delegable" }.into(),
                delegation_mode: (!statutory)
                    .then(|| if i % 2 == 0 { "direct" } else { "entrusted" }.to_string()),
                sector: sector.into(),
                domain: [
                    "城乡建设",
                    "市容环境",
                    "生态环境",
                    "农业农村",
                    "安全生产",
                    "社会事务",
                ][i % 6]
                    .into(),
                legal_basis: vec![LegalBasis {
                    law: law.into(),
                    article: format!("第{}条", 10 + rng.below(90)),
                    excerpt: format!(
                        "有关{subject}的事项，由乡镇人民政府或者县级人民政府有关部门依法{verb}。"
                    ),
                }],
                responsibilities: ["受理", "审查", "决定", "送达", "事后监管"]
                    .iter()
                    .map(|stage| Responsibility {
                        stage: (*stage).into(),
                        duty: format!("依法做好{subject}{verb}的{stage}工作"),
                    })
                    .collect(),
                accountability: vec!["不依法履行职责的".into(), "滥用职权、徇私舞弊的".into()],
                time_limit_days: (category == "01" || category == "07").then_some(20),
                high_frequency: i % 12 == 0,
                service_guide: (i % 12 == 0)
                    .then(|| format!("申请{subject}{verb}：携带身份证明到便民服务中心办理。")),
                parent_code: None,
                // Some statutory powers are a town's or a township's, not a subdistrict's.
                township_kinds: if statutory && i % 8 == 3 {
                    vec!["town".into(), "township".into()]
                } else {
                    Vec::new()
                },
            }
        })
        .enumerate()
        .map(|(i, item)| (i + 1, item))
        .collect()
}

fn matters(rng: &mut Rng, county: &str, count: usize) -> Vec<(usize, MatterInput)> {
    (0..count)
        .map(|i| {
            let lead = rng.below(SECTORS.len());
            let supporters: Vec<DepartmentDuties> = (1..=1 + rng.below(3))
                .map(|k| (lead + k * 5) % SECTORS.len())
                .map(|d| DepartmentDuties {
                    department: format!("{county}-d{d:02}"),
                    duties: vec!["配合调查取证".into(), "提供专业支持".into()],
                })
                .collect();
            let subject = SUBJECTS[i % SUBJECTS.len()];
            MatterInput {
                code: format!("SD-{i:03}"),
                name: format!("{subject}的属地管理（第{i}项）"),
                domain: ["生态环境", "城乡建设", "市场监管", "农业农村", "安全生产"][i % 5].into(),
                legal_basis: vec![LegalBasis {
                    law: rng.pick(&LAWS).into(),
                    article: format!("第{}条", 10 + rng.below(90)),
                    excerpt: String::new(),
                }],
                lead: DepartmentDuties {
                    department: format!("{county}-d{lead:02}"),
                    duties: vec!["依法审批".into(), "监督检查".into(), "查处违法行为".into()],
                },
                supporters,
                township_duties: vec![
                    "日常巡查".into(),
                    "发现报告".into(),
                    "劝阻制止".into(),
                    "配合执法".into(),
                ],
                one_matter: i % 6 == 0,
                lead_response_minutes: Some(30),
                support_arrival_minutes: Some(60),
                notes: None,
            }
        })
        .enumerate()
        .map(|(i, m)| (i + 1, m))
        .collect()
}

/// Builds the province into an empty database, printing progress to stderr.
pub fn generate(
    db: &Db,
    seed: u64,
    scale: &Scale,
    publication: &Publication,
) -> AppResult<GenerationReport> {
    let started = Instant::now();
    let mut rng = Rng(seed);
    let mut phases = Vec::new();
    let mut phase_start = Instant::now();
    let mut lap = |name: &str, phases: &mut Vec<(String, f64)>| {
        let seconds = phase_start.elapsed().as_secs_f64();
        eprintln!("  {name}: {seconds:.1} s");
        phases.push((name.to_string(), seconds));
        phase_start = Instant::now();
    };
    let province = RegionCode::parse("510000000000").expect("valid");
    let admin = actor("generator", "generator", &province, &[Role::CatalogueAdmin]);

    // Regions and organisations.
    let mut regions = vec![RegionInput {
        code: province.to_string(),
        name: "四川省".into(),
        level: None,
        parent: None,
    }];
    let mut orgs = Vec::new();
    let mut counties: Vec<(RegionCode, Vec<RegionCode>)> = Vec::new();
    for c in 1..=scale.cities {
        let city = format!("51{c:02}00000000");
        regions.push(RegionInput {
            code: city.clone(),
            name: name(&mut rng, "市"),
            level: None,
            parent: None,
        });
        for d in 1..=scale.counties_per_city {
            let county = RegionCode::parse(&format!("51{c:02}{:02}000000", 20 + d)).expect("valid");
            regions.push(RegionInput {
                code: county.to_string(),
                name: name(&mut rng, "县"),
                level: None,
                parent: None,
            });
            let key = county.scope_prefix().to_string();
            for (i, (sector, label)) in SECTORS.iter().enumerate() {
                orgs.push(OrganisationInput {
                    code: format!("{key}-d{i:02}"),
                    name: format!("县{label}"),
                    kind: OrganisationKind::Department,
                    sector: Some((*sector).into()),
                    region: county.to_string(),
                });
            }
            for (suffix, kind, label) in [
                ("sfj", OrganisationKind::JusticeBureau, "县司法局"),
                (
                    "bb",
                    OrganisationKind::StaffingOffice,
                    "县委机构编制委员会办公室",
                ),
                ("spj", OrganisationKind::ApprovalBureau, "县行政审批局"),
                ("gov", OrganisationKind::CountyGovernment, "县人民政府"),
            ] {
                orgs.push(OrganisationInput {
                    code: format!("{key}-{suffix}"),
                    name: label.into(),
                    kind,
                    sector: None,
                    region: county.to_string(),
                });
            }
            // A few townships more or fewer than the average, never fewer than one.
            let spread = 3.min(scale.townships_per_county - 1);
            let count = scale.townships_per_county - spread + rng.below(2 * spread + 1);
            let mut townships = Vec::new();
            for t in 0..count {
                let digits = match t % 5 {
                    0 => 1 + t,
                    4 => 200 + t,
                    _ => 100 + t,
                };
                let code = RegionCode::parse(&format!("{key}{digits:03}000")).expect("valid");
                let suffix = ["街道", "镇", "镇", "镇", "乡"][t % 5];
                regions.push(RegionInput {
                    code: code.to_string(),
                    name: name(&mut rng, suffix),
                    level: None,
                    parent: None,
                });
                orgs.push(OrganisationInput {
                    code: format!("{}-zfd", code.scope_prefix()),
                    name: "综合行政执法队".into(),
                    kind: OrganisationKind::TownshipUnit,
                    sector: Some("comprehensive_enforcement".into()),
                    region: code.to_string(),
                });
                orgs.push(OrganisationInput {
                    code: format!("{}-bmzx", code.scope_prefix()),
                    name: "便民服务中心".into(),
                    kind: OrganisationKind::TownshipUnit,
                    sector: None,
                    region: code.to_string(),
                });
                townships.push(code);
            }
            counties.push((county, townships));
        }
    }
    let township_count: usize = counties.iter().map(|(_, t)| t.len()).sum();
    let org_count = orgs.len();
    eprintln!("quanze generate: seed {seed}, {} counties, {township_count} townships, {org_count} organisations", counties.len());
    db.write_blocking(|conn| {
        Region::import(
            conn,
            &admin,
            None,
            regions
                .into_iter()
                .enumerate()
                .map(|(i, r)| (i + 1, r))
                .collect(),
            false,
        )?;
        Organisation::import(
            conn,
            &admin,
            None,
            orgs.into_iter()
                .enumerate()
                .map(|(i, o)| (i + 1, o))
                .collect(),
            false,
        )
    })?;
    lap("regions and organisations", &mut phases);

    // The catalogue.
    let items = catalogue_items(&mut rng, scale.items);
    let delegable: Vec<String> = items
        .iter()
        .filter(|(_, i)| i.source == "delegable")
        .map(|(_, i)| i.code.clone())
        .collect();
    db.write_blocking(|conn| {
        Edition::create(
            conn,
            &admin,
            NewEdition {
                code: "2026".into(),
                title: "四川省乡镇（街道）法定和赋权指导目录（2026年版）".into(),
                province: None,
            },
        )?;
        Items::import(conn, &admin, "2026", None, items, false)?;
        let edition = Edition::find(conn, "2026")?;
        Edition::publish(conn, &admin, "2026", edition.revision)
    })?;
    lap("catalogue edition", &mut phases);

    // Claims: one round per county, every township answers, departments confirm.
    let mut claim_count = 0;
    for (n, (county, townships)) in counties.iter().enumerate() {
        let key = county.scope_prefix().to_string();
        let compiler = compiler_of(county);
        let round = db.write_blocking(|conn| {
            Round::open(
                conn,
                &compiler,
                county.as_str(),
                NewRound {
                    edition: "2026".into(),
                    title: "2026年赋权事项双向认领".into(),
                    deadline: NaiveDate::from_ymd_opt(2099, 12, 31).expect("valid"),
                    items: None,
                    townships: None,
                },
            )
        })?;
        let round_id = round.round.id;
        let sectors: Vec<(String, String)> = db.read_blocking(|conn| {
            use crate::db::schema::claims;
            use diesel::prelude::*;
            Ok(claims::table
                .filter(claims::round_id.eq(round_id))
                .filter(claims::township_code.eq(townships[0].as_str()))
                .select((claims::item_code, claims::sector))
                .load::<(String, String)>(conn)?)
        })?;
        let sector_of: std::collections::HashMap<&str, &str> = sectors
            .iter()
            .map(|(i, s)| (i.as_str(), s.as_str()))
            .collect();
        for township in townships {
            let clerk = actor(
                "clerk",
                &format!("{}-bmzx", township.scope_prefix()),
                township,
                &[Role::TownshipClerk],
            );
            let mut claimed = Vec::new();
            let answers: Vec<ChangeRequest> = delegable
                .iter()
                .enumerate()
                .map(|(i, code)| {
                    let roll = rng.below(100);
                    let (action, unit, comment) = match roll {
                        0..=79 => (
                            Action::Claim,
                            Some(format!("{}-zfd", township.scope_prefix())),
                            None,
                        ),
                        80..=91 => (
                            Action::Defer,
                            None,
                            Some("暂无持证执法人员，暂缓承接".to_string()),
                        ),
                        _ => (Action::Decline, None, Some("辖区内无此类事项".to_string())),
                    };
                    if action == Action::Claim && roll < 77 {
                        claimed.push(code.clone());
                    }
                    ChangeRequest {
                        row: i + 1,
                        township: township.to_string(),
                        item: code.clone(),
                        action,
                        revision: Some(1),
                        unit,
                        comment,
                    }
                })
                .collect();
            claim_count += answers.len();
            db.write_blocking(|conn| Claims::apply(conn, &clerk, round_id, answers).map(|_| ()))?;
            // Each department confirms the claims of its sector.
            let mut by_sector: std::collections::BTreeMap<&str, Vec<ChangeRequest>> =
                std::collections::BTreeMap::new();
            for (i, code) in claimed.iter().enumerate() {
                by_sector
                    .entry(sector_of.get(code.as_str()).copied().unwrap_or(""))
                    .or_default()
                    .push(ChangeRequest {
                        row: i + 1,
                        township: township.to_string(),
                        item: code.clone(),
                        action: Action::Confirm,
                        revision: Some(2),
                        unit: None,
                        comment: None,
                    });
            }
            for (sector, decisions) in by_sector {
                let index = SECTORS
                    .iter()
                    .position(|(s, _)| *s == sector)
                    .ok_or_else(|| AppError::Internal(format!("no department for {sector}")))?;
                let officer = actor(
                    "officer",
                    &format!("{key}-d{index:02}"),
                    county,
                    &[Role::DepartmentOfficer],
                );
                db.write_blocking(|conn| {
                    Claims::apply(conn, &officer, round_id, decisions).map(|_| ())
                })?;
            }
        }
        if (n + 1) % 20 == 0 || n + 1 == counties.len() {
            eprintln!(
                "  claims: {}/{} counties, {claim_count} claims answered",
                n + 1,
                counties.len()
            );
        }
    }
    lap("claiming rounds", &mut phases);

    // Responsibility lists.
    for (county, _) in &counties {
        let key = county.scope_prefix().to_string();
        let compiler = compiler_of(county);
        let list = matters(&mut rng, &key, scale.matters);
        db.write_blocking(|conn| {
            DutyLists::import(conn, &compiler, county, Some(0), list, false).map(|_| ())
        })?;
    }
    lap("responsibility lists", &mut phases);

    // Publication: every county publishes both lists; every fourth publishes a second
    // version of each, so that the first is superseded.
    let first_day = NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid");
    let mut publications = 0;
    for (n, (county, _)) in counties.iter().enumerate() {
        let key = county.scope_prefix().to_string();
        let compiler = compiler_of(county);
        let versions = if n % 4 == 0 { 2 } else { 1 };
        for v in 1..=versions {
            for kind in [ListKind::Power, ListKind::Duty] {
                if v == 2 && kind == ListKind::Duty {
                    let changed = matters(&mut rng, &key, scale.matters + 2);
                    let revision =
                        db.read_blocking(|conn| Ok(DutyLists::header(conn, county)?.revision))?;
                    db.write_blocking(|conn| {
                        DutyLists::import(conn, &compiler, county, Some(revision), changed, false)
                            .map(|_| ())
                    })?;
                }
                let effective_from = if v == 1 {
                    first_day
                } else {
                    crate::db::today()
                };
                let title = format!(
                    "{}第{v}版",
                    if kind == ListKind::Power {
                        "乡镇权责清单"
                    } else {
                        "属地管理事项责任清单"
                    }
                );
                let summary = if v == 1 {
                    "首次发布"
                } else {
                    "动态调整"
                };
                publish_now(
                    db,
                    publication,
                    county,
                    kind,
                    (&title, summary),
                    effective_from,
                )?;
                publications += 1;
            }
        }
        if (n + 1) % 20 == 0 || n + 1 == counties.len() {
            eprintln!(
                "  publication: {}/{} counties, {publications} versions published",
                n + 1,
                counties.len()
            );
        }
    }
    lap("publication", &mut phases);
    let database_bytes = database_size(db)?;
    let report = GenerationReport {
        seed,
        backend: format!("{:?}", db.backend()),
        counties: counties.len(),
        townships: township_count,
        organisations: org_count,
        items: scale.items,
        claims: claim_count,
        matters: counties.len() * scale.matters,
        publications,
        phases,
        seconds: started.elapsed().as_secs_f64(),
        database_bytes,
    };
    Ok(report)
}

/// Submits a county's list as it stands, has every stage approve it (as the reviewers
/// the generator registers) and publishes it from `effective_from`, in one transaction:
/// what a county's publication costs, its bytes included.
pub fn publish_now(
    db: &Db,
    publication: &Publication,
    county: &RegionCode,
    kind: ListKind,
    (title, change_summary): (&str, &str),
    effective_from: NaiveDate,
) -> AppResult<crate::publication::Version> {
    let workflow = &publication.workflow;
    let key = county.scope_prefix().to_string();
    let compiler = compiler_of(county);
    db.write_blocking(|conn| {
        let version = Versions::submit(
            conn,
            &compiler,
            county,
            kind,
            SubmitInput {
                title: title.into(),
                change_summary: change_summary.into(),
                edition: None,
                // A generated round leaves some claims waiting for their department, as
                // real ones do when a county publishes what is confirmed.
                allow_incomplete: kind == ListKind::Power,
                incomplete_reason: (kind == ListKind::Power)
                    .then(|| "已确认事项先行公布，其余事项确认后调整".into()),
            },
        )?;
        let key_v = VersionKey {
            county: county.clone(),
            kind,
            number: version.number,
        };
        for stage in &workflow.plan(kind).stages {
            let reviewer = actor(
                &format!("{key}-{}-reviewer", stage.as_str()),
                &format!("{key}-{}", holder_suffix(workflow.holder(*stage)?)),
                county,
                &[stage.role()],
            );
            let comments = if *stage == Stage::Legality {
                "经审查，符合法律法规规定"
            } else {
                "同意"
            };
            let review = ReviewInput {
                stage: *stage,
                decision: Decision::Approve,
                comments: comments.into(),
                hash: version.content_hash.clone(),
                findings: Vec::new(),
            };
            Versions::review(conn, &reviewer, workflow, &key_v, review)?;
        }
        let current = Versions::find(conn, county, kind, version.number)?;
        let input = PublishInput {
            effective_from: Some(effective_from),
        };
        let signer = &publication.signing;
        Versions::publish(
            conn,
            &compiler,
            workflow,
            signer,
            &key_v,
            current.revision,
            input,
        )
    })
}

/// The database's size on disk.
pub fn database_size(db: &Db) -> AppResult<u64> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    let query = match db.backend() {
        crate::db::Backend::Postgres => "SELECT pg_database_size(current_database()) AS bytes",
        crate::db::Backend::Sqlite => {
            "SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()"
        }
    };
    let size: Size = db.read_blocking(|conn| {
        Ok(match conn {
            crate::db::DbConnection::Sqlite(c) => diesel::sql_query(query).get_result(c)?,
            crate::db::DbConnection::Postgresql(c) => diesel::sql_query(query).get_result(c)?,
        })
    })?;
    Ok(size.bytes as u64)
}
