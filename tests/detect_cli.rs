//! `dais detect`, black-box: scores, the quality report, and one clear line with file and line for bad input.

mod common;

use common::{assert_one_line_error, dais, write_file};

/// A deterministic pseudo-random cloud (no RNG crate needed in the fixture text).
fn cloud(rows: usize, shift: f64, salt: usize) -> Vec<[f64; 3]> {
    (0..rows)
        .map(|i| {
            let v = |k: usize| {
                (((i * 7919 + k * 104_729 + salt * 13) % 1000) as f64 / 1000.0 - 0.5) * 2.0 + shift
            };
            [v(1), v(2), v(3)]
        })
        .collect()
}

fn csv(rows: &[[f64; 3]], labels: Option<&[u8]>) -> String {
    let mut out = String::from(if labels.is_some() {
        "host,x,y,z,label\n"
    } else {
        "host,x,y,z\n"
    });
    for (i, r) in rows.iter().enumerate() {
        out += &format!("h{i},{},{},{}", r[0], r[1], r[2]);
        if let Some(l) = labels {
            out += &format!(",{}", l[i]);
        }
        out += "\n";
    }
    out
}

#[test]
fn scores_every_row_and_reports_quality_against_labels() {
    let dir = tempfile::tempdir().unwrap();
    let train = write_file(dir.path(), "train.csv", &csv(&cloud(500, 0.0, 1), None));
    let mut rows = cloud(200, 0.0, 2);
    rows.extend(cloud(20, 6.0, 3));
    let labels: Vec<u8> = (0..220).map(|i| u8::from(i >= 200)).collect();
    let data = write_file(dir.path(), "data.csv", &csv(&rows, Some(&labels)));
    let out_path = dir.path().join("scores.csv");
    let out = dais(&[
        "detect",
        "--train",
        &train,
        "--score",
        &data,
        "--label-column",
        "label",
        "--seed",
        "3",
        "--output",
        out_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("3 features (x, y, z)"), "{report}");
    let auc: f64 = report
        .lines()
        .find_map(|l| l.strip_prefix("ROC AUC "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(auc > 0.95, "{report}");
    assert!(report.contains("average precision "));
    let scores = std::fs::read_to_string(&out_path).unwrap();
    assert_eq!(scores.lines().next(), Some("score,is_anomaly"));
    assert_eq!(scores.lines().count(), 221);
    // The shifted rows are flagged.
    let flagged_last = scores
        .lines()
        .skip(201)
        .filter(|l| l.ends_with(",1"))
        .count();
    assert_eq!(flagged_last, 20);
    // Same seed, same scores; to stdout without --output.
    let again = dais(&[
        "detect",
        "--train",
        &train,
        "--score",
        &data,
        "--label-column",
        "label",
        "--seed",
        "3",
    ]);
    assert_eq!(String::from_utf8_lossy(&again.stdout), scores);
}

#[test]
fn bad_input_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_file(dir.path(), "good.csv", "a,b\n1,2\n3,4\n5,6\n");
    let cases = [
        (
            "ragged.csv",
            "a,b\n1,2\n3\n",
            "ragged.csv:3: 1 fields, but the header has 2",
        ),
        (
            "text.csv",
            "a,b\n1,2\n3,oops\n",
            "text.csv:3: column \"b\": \"oops\" is not a number",
        ),
        (
            "names.csv",
            "host,site\nx,y\n",
            "names.csv has no numeric columns",
        ),
        ("empty.csv", "", "empty.csv is empty"),
        (
            "header.csv",
            "a,b\n",
            "header.csv has a header but no data rows",
        ),
    ];
    for (name, text, needle) in cases {
        let path = write_file(dir.path(), name, text);
        assert_one_line_error(
            &dais(&["detect", "--train", &path, "--score", &good]),
            needle,
        );
    }
    assert_one_line_error(
        &dais(&["detect", "--train", "/no/train.csv", "--score", &good]),
        "cannot read /no/train.csv",
    );
    let labelled = write_file(dir.path(), "labelled.csv", "a,b,label\n1,2,0\n3,4,2\n");
    assert_one_line_error(
        &dais(&[
            "detect",
            "--train",
            &good,
            "--score",
            &labelled,
            "--label-column",
            "label",
        ]),
        "labelled.csv:3: label column \"label\" must be 0 or 1, found \"2\"",
    );
    assert_one_line_error(
        &dais(&[
            "detect",
            "--train",
            &good,
            "--score",
            &good,
            "--label-column",
            "nope",
        ]),
        "lacks column \"nope\"",
    );
    let other = write_file(dir.path(), "other.csv", "c,d\n1,2\n");
    assert_one_line_error(
        &dais(&["detect", "--train", &good, "--score", &other]),
        "other.csv lacks column \"a\"",
    );
    let out = dais(&[
        "detect",
        "--train",
        &good,
        "--score",
        &good,
        "--contamination",
        "lots",
    ]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--contamination")
    );
    assert!(dais(&["detect", "--help"]).status.success());
}

/// A quoted field may hold a comma, and blank lines and spaces around fields are skipped: the file is read as CSV,
/// not split on commas.
#[test]
fn quoted_fields_with_commas_are_read_as_one_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("note, a, b\n");
    for i in 0..40 {
        text += &format!("\"host {i}, rack 2\", {}.5, {}\n", i % 7, i % 5);
        if i == 10 {
            text += "\n";
        }
    }
    let path = write_file(dir.path(), "quoted.csv", &text);
    let out = dais(&["detect", "--train", &path, "--score", &path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scores = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        scores.lines().count(),
        1 + 40,
        "a header and a score per row: {scores}"
    );
    // The text column is not a feature; a ragged row is still named by its line.
    let ragged = write_file(
        dir.path(),
        "ragged-quoted.csv",
        "note,a\n\"x, y\",1\n\"x, y\",1,2\n",
    );
    assert_one_line_error(
        &dais(&["detect", "--train", &ragged, "--score", &path]),
        "ragged-quoted.csv:3: 3 fields, but the header has 2",
    );
}
