//! The matcher's tables: containerd's `Only` vectors and truth table (compare.go,
//! compare_test.go) and the Windows `os.version` rule, as seen from [`PlatformSpec`].

use super::super::testing::{p, spec};
use super::*;

fn v(s: &str) -> Vec<String> {
    spec(s).vector().iter().map(ToString::to_string).collect()
}

/// 32-bit arm v8 and below, the tail of every known arm64 variant's vector.
const ARM_32: [&str; 4] = [
    "linux/arm/v8",
    "linux/arm/v7",
    "linux/arm/v6",
    "linux/arm/v5",
];

/// containerd's `Only` vectors (compare.go), per architecture other than arm64.
#[test]
fn vectors() {
    assert_eq!(v("linux/amd64"), ["linux/amd64", "linux/386"]);
    assert_eq!(
        v("linux/amd64/v3"),
        [
            "linux/amd64/v3",
            "linux/amd64/v2",
            "linux/amd64",
            "linux/386"
        ]
    );
    assert_eq!(v("linux/386"), ["linux/386"]);
    assert_eq!(
        v("linux/arm"),
        ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]
    );
    assert_eq!(v("linux/arm/v8"), ARM_32);
    assert_eq!(v("linux/arm/v5"), ["linux/arm/v5"]);
    assert_eq!(v("linux/arm/v4"), ["linux/arm/v4"]);
    assert_eq!(v("linux/ppc64le"), ["linux/ppc64le"]);
    // a hostile variant number does not list billions of fallbacks (fuzzing found this)
    assert_eq!(
        v("linux/amd64/v4000000000"),
        ["linux/amd64/v4000000000", "linux/386"]
    );
    assert_eq!(v("linux/arm/v4000000000"), ["linux/arm/v4000000000"]);
    assert!(v("windows").is_empty());
}

/// Every arm64 variant compare.go's table knows, with the arm64 variants its vector lists
/// before the 32-bit fallback (v8 is printed `linux/arm64`, as containerd normalizes it).
#[test]
fn arm64_vectors() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "arm64",
                "linux/arm64",
                "linux/arm64/v8",
                "linux/aarch64/8",
                "linux/arm64/v8.0",
            ],
            &[""],
        ),
        (&["linux/arm64/v8.1"], &["v8.1", ""]),
        (&["linux/arm64/v8.2"], &["v8.2", "v8.1", ""]),
        (&["linux/arm64/v8.3"], &["v8.3", "v8.2", "v8.1", ""]),
        (&["linux/arm64/v8.4"], &["v8.4", "v8.3", "v8.2", "v8.1", ""]),
        (
            &["linux/arm64/v8.5"],
            &["v8.5", "v8.4", "v8.3", "v8.2", "v8.1", ""],
        ),
        (
            &["linux/arm64/v8.6"],
            &["v8.6", "v8.5", "v8.4", "v8.3", "v8.2", "v8.1", ""],
        ),
        (
            &["linux/arm64/v8.7"],
            &["v8.7", "v8.6", "v8.5", "v8.4", "v8.3", "v8.2", "v8.1", ""],
        ),
        (
            &["linux/arm64/v8.8"],
            &[
                "v8.8", "v8.7", "v8.6", "v8.5", "v8.4", "v8.3", "v8.2", "v8.1", "",
            ],
        ),
        (
            &["linux/arm64/V8.9"],
            &[
                "v8.9", "v8.8", "v8.7", "v8.6", "v8.5", "v8.4", "v8.3", "v8.2", "v8.1", "",
            ],
        ),
        (
            &[
                "linux/arm64/v9",
                "linux/arm64/9",
                "linux/arm64/v9.0",
                "linux/aarch64/9.0",
            ],
            &["v9", "v8.5", "v8.4", "v8.3", "v8.2", "v8.1", ""],
        ),
        (
            &["linux/arm64/v9.1"],
            &[
                "v9.1", "v9", "v8.6", "v8.5", "v8.4", "v8.3", "v8.2", "v8.1", "",
            ],
        ),
        (
            &["linux/arm64/v9.2"],
            &[
                "v9.2", "v9.1", "v9", "v8.7", "v8.6", "v8.5", "v8.4", "v8.3", "v8.2", "v8.1", "",
            ],
        ),
        (
            &["linux/arm64/v9.3"],
            &[
                "v9.3", "v9.2", "v9.1", "v9", "v8.8", "v8.7", "v8.6", "v8.5", "v8.4", "v8.3",
                "v8.2", "v8.1", "",
            ],
        ),
        (
            &["linux/arm64/v9.4"],
            &[
                "v9.4", "v9.3", "v9.2", "v9.1", "v9", "v8.9", "v8.8", "v8.7", "v8.6", "v8.5",
                "v8.4", "v8.3", "v8.2", "v8.1", "",
            ],
        ),
        (
            &["linux/arm64/v9.5"],
            &[
                "v9.5", "v9.4", "v9.3", "v9.2", "v9.1", "v9", "v8.9", "v8.8", "v8.7", "v8.6",
                "v8.5", "v8.4", "v8.3", "v8.2", "v8.1", "",
            ],
        ),
        (
            &["linux/arm64/v9.6"],
            &[
                "v9.6", "v9.5", "v9.4", "v9.3", "v9.2", "v9.1", "v9", "v8.9", "v8.8", "v8.7",
                "v8.6", "v8.5", "v8.4", "v8.3", "v8.2", "v8.1", "",
            ],
        ),
        (
            &["linux/arm64/v9.7"],
            &[
                "v9.7", "v9.6", "v9.5", "v9.4", "v9.3", "v9.2", "v9.1", "v9", "v8.9", "v8.8",
                "v8.7", "v8.6", "v8.5", "v8.4", "v8.3", "v8.2", "v8.1", "",
            ],
        ),
    ];
    for (spellings, arm64) in cases {
        let mut want: Vec<String> = arm64
            .iter()
            .map(|variant| match *variant {
                "" => "linux/arm64".to_owned(),
                variant => format!("linux/arm64/{variant}"),
            })
            .collect();
        want.extend(ARM_32.map(str::to_owned));
        for spelling in *spellings {
            assert_eq!(v(spelling), want, "{spelling}");
        }
    }
    // the same rule on another OS
    assert_eq!(
        v("windows/arm64/v8.1"),
        [
            "windows/arm64/v8.1",
            "windows/arm64",
            "windows/arm/v8",
            "windows/arm/v7",
            "windows/arm/v6",
            "windows/arm/v5"
        ]
    );
}

/// An arm64 variant compare.go's table does not know gets an empty vector: a host of it
/// runs nothing, not its own variant, not arm64 v8, not 32-bit arm.
#[test]
fn arm64_unknown_variants_match_nothing() {
    for host in [
        "linux/arm64/v8.10",
        "linux/arm64/v8.01",
        "linux/arm64/v9.8",
        "linux/arm64/v9.10",
        "linux/arm64/v10",
        "linux/arm64/v7",
        "linux/arm64/8.2",
        "linux/arm64/v8.2.1",
        "linux/arm64/foo",
        "w/arm64/v6697677",
    ] {
        assert!(v(host).is_empty(), "{host}: {:?}", v(host));
        let host_spec = spec(host);
        for image in [
            host,
            "linux/arm64",
            "linux/arm64/v8.1",
            "linux/arm/v8",
            "linux/arm/v5",
        ] {
            assert_eq!(host_spec.rank(&p(image)), None, "{host} runs {image}");
            assert!(!host_spec.native(&p(image)), "{host} natively {image}");
            assert!(
                !host_spec.compatible(&p(image)),
                "{host} compatibly {image}"
            );
        }
    }
    // an image of an unknown variant is run by no known host either
    for host in ["linux/arm64", "linux/arm64/v8.9", "linux/arm64/v9.7"] {
        assert!(!spec(host).compatible(&p("linux/arm64/v8.10")), "{host}");
    }
}

/// Every known arm64 variant, v9.x included, falls back to 32-bit arm v8, v7, v6, v5 (in
/// that order, right after its arm64 entries), never to arm v9 or below v5; those entries
/// are compatible, not native.
#[test]
fn arm64_falls_back_to_32_bit_arm_v8_and_below() {
    let known = [
        "", "/v8.1", "/v8.5", "/v8.9", "/v9", "/v9.1", "/v9.4", "/v9.7",
    ];
    for variant in known {
        let host = format!("linux/arm64{variant}");
        let vector = v(&host);
        assert_eq!(vector[vector.len() - 4..], ARM_32, "{host}");
        assert!(
            vector[..vector.len() - 4]
                .iter()
                .all(|e| e.starts_with("linux/arm64"))
        );
        let host_spec = spec(&host);
        for (rank, image) in ARM_32.iter().enumerate() {
            assert_eq!(
                host_spec.rank(&p(image)),
                Some(vector.len() - 4 + rank),
                "{host}"
            );
            assert!(!host_spec.native(&p(image)), "{host} natively {image}");
        }
        assert!(
            host_spec.compatible(&p("linux/arm")),
            "{host} runs arm (v7)"
        );
        for image in [
            "linux/arm/v9",
            "linux/arm/v9.1",
            "linux/arm/v4",
            "linux/arm/v8.1",
        ] {
            assert!(
                !host_spec.compatible(&p(image)),
                "{host} does not run {image}"
            );
        }
    }
}

/// containerd's `Only` truth table (compare_test.go `TestOnly`, every case), and the
/// native sense: what `Only` accepts of the host's own architecture.
#[test]
fn only_and_native() {
    let check = |host: &str, runs: &[String], does_not: &[String]| {
        let host_spec = spec(host);
        let host_arch = Normalized::of(&p(host)).architecture;
        for image in runs {
            let image_platform = p(image);
            assert!(host_spec.compatible(&image_platform), "{host} runs {image}");
            let same_arch = Normalized::of(&image_platform).architecture == host_arch;
            assert_eq!(
                host_spec.native(&image_platform),
                same_arch,
                "{host} natively {image}"
            );
        }
        for image in does_not {
            assert!(
                !host_spec.compatible(&p(image)),
                "{host} does not run {image}"
            );
            assert!(!host_spec.native(&p(image)), "{host} not natively {image}");
        }
    };
    let linux = |names: &[&str]| -> Vec<String> {
        names.iter().map(|name| format!("linux/{name}")).collect()
    };
    // every Linux case of the table runs neither of these
    let not_windows = |names: &[&str]| -> Vec<String> {
        let mut images = linux(names);
        images.extend(["windows/amd64", "windows/arm"].map(str::to_owned));
        images
    };
    // what an arm/v8 host runs, and every arm64 host besides its arm64 variants
    const ARM_TO_V8: [&str; 5] = ["arm", "arm/v5", "arm/v6", "arm/v7", "arm/v8"];
    // Linux hosts but arm64 (without their `linux/`): what each runs, and does not
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("amd64", &["amd64", "386"], &["amd64/v2", "arm/v7", "arm64"]),
        (
            "amd64/v2",
            &["amd64", "amd64/v1", "amd64/v2", "386"],
            &["amd64/v3", "amd64/v4", "arm/v7", "arm64"],
        ),
        ("386", &["386"], &["amd64", "arm/v7", "arm64"]),
        ("arm/v8", &ARM_TO_V8, &["amd64", "arm/v4", "arm64"]),
        (
            "arm/v7",
            &["arm", "arm/v5", "arm/v6", "arm/v7"],
            &["amd64", "arm/v4", "arm/v8", "arm64"],
        ),
        (
            "arm/v6",
            &["arm/v5", "arm/v6"],
            &["amd64", "arm", "arm/v4", "arm/v7", "arm/v8", "arm64"],
        ),
        (
            "arm/v5",
            &["arm/v5"],
            &[
                "amd64", "arm", "arm/v4", "arm/v6", "arm/v7", "arm/v8", "arm64",
            ],
        ),
        (
            "arm/v4",
            &["arm/v4"],
            &[
                "amd64", "arm", "arm/v5", "arm/v6", "arm/v7", "arm/v8", "arm64",
            ],
        ),
    ];
    for (host, runs, does_not) in cases {
        check(
            &format!("linux/{host}"),
            &linux(runs),
            &not_windows(does_not),
        );
    }
    // arm64 hosts: the arm64 variants each runs besides arm64 (v8) and 32-bit arm up to v8,
    // and what it does not run
    let arm64_cases: &[(&str, &[&str], &[&str])] = &[
        (
            "arm64/v9.6",
            &[
                "v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v8.6", "v8.7", "v8.8", "v8.9", "v9",
                "v9.0", "v9.1", "v9.2", "v9.3", "v9.4", "v9.5", "v9.6",
            ],
            &["amd64", "arm/v4", "arm64/v8.10"],
        ),
        (
            "arm64/v9",
            &["v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v9", "v9.0"],
            &["amd64", "arm/v4", "arm64/v8.6"],
        ),
        (
            "arm64/v8.1",
            &["v8.1"],
            &["amd64", "arm/v4", "arm/v9", "arm64/v9"],
        ),
        (
            "arm64",
            &[],
            &["amd64", "arm/v4", "arm/v9", "arm64/v9", "arm64/v8.1"],
        ),
    ];
    for (host, variants, does_not) in arm64_cases {
        let mut runs = linux(&ARM_TO_V8);
        runs.extend(["linux/arm64".to_owned(), "linux/arm64/v8".to_owned()]);
        runs.extend(variants.iter().map(|v| format!("linux/arm64/{v}")));
        check(&format!("linux/{host}"), &runs, &not_windows(does_not));
    }
    // the one Windows host
    check(
        "windows/amd64",
        &["windows/amd64".to_owned()],
        &["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/arm"].map(str::to_owned),
    );
    // compare_test.go's `windows(10.0.17763)/amd64` image for a `windows/amd64` host
    let versioned = Platform {
        os_version: Some("10.0.17763".into()),
        ..p("windows/amd64")
    };
    assert!(spec("windows/amd64").native(&versioned));
    // an OS alone: any architecture of it
    assert!(spec("windows").native(&p("windows/arm64")));
    assert!(!spec("windows").compatible(&p("linux/amd64")));
    assert!(spec("linux").native(&p("linux/s390x")));
    assert!(spec("linux").native(&p("linux/arm64/v8.10")));
    // other architectures compare variants exactly
    assert!(!spec("linux/ppc64le/power9").compatible(&p("linux/ppc64le")));
    assert!(spec("linux/riscv64").native(&p("linux/riscv64")));
}

#[test]
fn os_version_and_features() {
    let win = |build: &str| Platform {
        os_version: Some(format!("10.0.{build}")),
        ..p("windows/amd64")
    };
    // the host table of containerd's Windows compatibility
    for (host, images) in [
        ("17763", [true, false, false, false, false]),
        ("20348", [false, true, false, false, false]),
        ("22621", [false, true, true, false, false]),
        ("26100", [false, true, true, true, true]),
        ("26200", [false, true, true, true, true]),
    ] {
        let host_spec = spec(&format!("windows(10.0.{host})/amd64"));
        for (image, want) in ["17763", "20348", "22621", "25398", "26100"]
            .iter()
            .zip(images)
        {
            assert_eq!(
                host_spec.native(&win(image)),
                want,
                "host {host}, image {image}"
            );
        }
    }
    // revisions are ignored; no host version matches every version; other OSes ignore it
    assert!(spec("windows(10.0.17763)/amd64").native(&win("17763.2300")));
    assert!(spec("windows/amd64").native(&win("17763")));
    assert!(spec("windows(10.0.17763)/amd64").native(&p("windows/amd64")));
    assert!(!spec("windows(10.0.20348)/amd64").native(&Platform {
        os_version: Some("6.3.9600".into()),
        ..p("windows/amd64")
    }));
    let linux_version = Platform {
        os_version: Some("6.1".into()),
        ..p("linux/amd64")
    };
    assert!(spec("linux(5.4)/amd64").native(&linux_version));
    // features: what the image requires must be what the host has
    let gpu = Platform {
        os_features: vec!["gpu".into()],
        ..p("linux/amd64")
    };
    assert!(!spec("linux/amd64").native(&gpu));
    assert!(spec("linux(+gpu)/amd64").native(&gpu));
    assert!(spec("linux(+gpu+simd)/amd64").native(&gpu));
    assert!(spec("linux(+gpu)/amd64").native(&p("linux/amd64")));
    let win32k = Platform {
        os_features: vec!["win32k".into()],
        ..p("windows/amd64")
    };
    assert!(
        spec("windows/amd64").native(&win32k),
        "win32k is not considered"
    );
}
