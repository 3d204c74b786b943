//! The SVG chart of a run: unary throughput and p99 latency against calls in flight.

use std::path::Path;

use plotters::prelude::*;

use crate::record::Record;
use crate::report::Field;

/// Two panels: throughput and p99 latency against calls in flight, one line per system.
pub fn draw(path: &Path, records: &[Record]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1100, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(550);
    let series = |system: &str, field: Field| -> Vec<(f64, f64)> {
        let mut points: Vec<(f64, f64)> = records
            .iter()
            .filter(|r| r.scenario == "unary" && r.system == system)
            .filter_map(|r| Some((f64::from(r.concurrency?), field(r)?)))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points
    };
    let colors = [("micro", RED), ("tonic", BLUE), ("raw_tcp", BLACK)];
    let panels: [(_, &str, Field); 2] = [
        (left, "unary requests/s", |r| r.rps),
        (right, "unary p99 latency, µs", |r| r.p99_us),
    ];
    for (area, title, field) in panels {
        let max = colors
            .iter()
            .flat_map(|(system, _)| series(system, field))
            .map(|(_, y)| y)
            .fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(&area)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d((1.0f64..300.0).log_scale(), 0.0..max * 1.1)?;
        chart
            .configure_mesh()
            .x_desc("calls in flight")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()?;
        for (system, color) in colors {
            chart
                .draw_series(LineSeries::new(
                    series(system, field),
                    color.stroke_width(2),
                ))?
                .label(system)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
