//! The summary table printed on stdout after a run or a merge (comfy-table).

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

use super::summary::{Figure, Summary, TOTAL_NAMES};

fn interval(f: &Figure) -> String {
    format!("[{}, {}]", f.ci95[0], f.ci95[1])
}

/// The program totals over all performance years (mean, 95% interval, MCSE) and each year's mean.
pub fn summary_table(s: &Summary) -> Table {
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    let mut header = vec![
        format!(
            "{} ({} replicates, seed {})",
            s.scenario, s.replicates, s.seed
        ),
        "mean".to_owned(),
        "95% interval".to_owned(),
        "MCSE".to_owned(),
    ];
    header.extend(
        s.by_performance_year
            .iter()
            .map(|y| format!("PY{} mean", y.performance_year)),
    );
    table.set_header(header);
    for (k, name) in TOTAL_NAMES.iter().enumerate() {
        let f = &s.totals.figures()[k];
        let mut row = vec![
            (*name).to_owned(),
            f.mean.clone(),
            interval(f),
            f.mcse.clone().unwrap_or_else(|| "-".to_owned()),
        ];
        row.extend(
            s.by_performance_year
                .iter()
                .map(|y| y.totals.figures()[k].mean.clone()),
        );
        table.add_row(row);
    }
    for i in 1..table.column_count() {
        if let Some(c) = table.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}
