//! Drawing series with plotters into an RGB buffer and encoding it as PNG.

use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::FontStyle;

use super::{Labels, Series};

pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 600;
const FONT: &str = "sans-serif";
const COLORS: [RGBColor; 4] = [
    RGBColor(231, 76, 60),
    RGBColor(243, 156, 18),
    RGBColor(52, 152, 219),
    RGBColor(127, 140, 141),
];
const ACCENT: RGBColor = RGBColor(41, 128, 185);

#[derive(Debug, Clone, thiserror::Error)]
pub enum ChartError {
    #[error("the bundled font could not be loaded")]
    Font,
    #[error("drawing failed: {0}")]
    Draw(String),
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

fn font() -> Result<(), ChartError> {
    static LOADED: OnceLock<bool> = OnceLock::new();
    let ok = *LOADED.get_or_init(|| {
        let bytes: &'static [u8] = include_bytes!("../../charts/DejaVuSans.ttf");
        plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok()
            && plotters::style::register_font(FONT, FontStyle::Bold, bytes).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Font)
    }
}

fn err<E: std::fmt::Debug>(e: E) -> ChartError {
    ChartError::Draw(format!("{e:?}"))
}

/// Width and height of a PNG (for tests and checks).
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder.read_info().ok()?;
    let info = reader.info();
    Some((info.width, info.height))
}

fn encode(rgb: &[u8]) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut w = enc
            .write_header()
            .map_err(|e| ChartError::Encode(e.to_string()))?;
        w.write_image_data(rgb)
            .map_err(|e| ChartError::Encode(e.to_string()))?;
    }
    Ok(out)
}

/// Draws a series with its labels.
pub fn draw(series: &Series, labels: &Labels) -> Result<Vec<u8>, ChartError> {
    font()?;
    let mut buf = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        if series.is_empty() {
            root.draw(&Text::new(
                labels.title.clone(),
                (40, 40),
                (FONT, 32).into_font().color(&BLACK),
            ))
            .map_err(err)?;
            root.draw(&Text::new(
                labels.empty.clone(),
                (40, 280),
                (FONT, 36).into_font().color(&RGBColor(120, 120, 120)),
            ))
            .map_err(err)?;
        } else {
            draw_series(&root, series, labels)?;
        }
        root.present().map_err(err)?;
    }
    encode(&buf)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn draw_series(root: &Area<'_>, series: &Series, labels: &Labels) -> Result<(), ChartError> {
    let caption = (FONT, 30).into_font();
    match series {
        Series::StackedByDay(days) => {
            let max = days
                .iter()
                .map(|(_, c)| c.iter().sum::<i64>())
                .max()
                .unwrap_or(1)
                .max(1) as f64;
            let n = days.len() as u32;
            let mut chart = ChartBuilder::on(root)
                .caption(&labels.title, caption)
                .margin(20)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(
                    (0u32..n.saturating_sub(1)).into_segmented(),
                    0f64..max * 1.15,
                )
                .map_err(err)?;
            let fmt_day = |x: &SegmentValue<u32>| match x {
                SegmentValue::CenterOf(i) => days
                    .get(*i as usize)
                    .map(|(d, _)| d.format("%d.%m").to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(days.len().min(16))
                .x_label_formatter(&fmt_day)
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style((FONT, 16))
                .draw()
                .map_err(err)?;
            for (cat, color) in COLORS.iter().enumerate() {
                let series = Histogram::vertical(&chart)
                    .style(color.filled())
                    .margin(6)
                    .baseline_func(move |x: &SegmentValue<u32>| match x {
                        SegmentValue::Exact(i) | SegmentValue::CenterOf(i) => days
                            .get(*i as usize)
                            .map_or(0.0, |(_, c)| c[..cat].iter().sum::<i64>() as f64),
                        SegmentValue::Last => 0.0,
                    })
                    .data(
                        days.iter()
                            .enumerate()
                            .map(|(i, (_, c))| (i as u32, c[..=cat].iter().sum::<i64>() as f64)),
                    );
                chart
                    .draw_series(series)
                    .map_err(err)?
                    .label(labels.names.get(cat).cloned().unwrap_or_default())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .label_font((FONT, 16))
                .draw()
                .map_err(err)?;
        }
        Series::Bars(bars) => {
            let max = bars.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1.0);
            let n = bars.len() as u32;
            let mut chart = ChartBuilder::on(root)
                .caption(&labels.title, caption)
                .margin(20)
                .x_label_area_size(50)
                .y_label_area_size(60)
                .build_cartesian_2d(
                    (0u32..n.saturating_sub(1)).into_segmented(),
                    0f64..max * 1.15,
                )
                .map_err(err)?;
            let names: Vec<String> = bars
                .iter()
                .enumerate()
                .map(|(i, (k, _))| {
                    if labels.names.len() == bars.len() {
                        labels.names[i].clone()
                    } else {
                        k.clone()
                    }
                })
                .collect();
            let fmt = |x: &SegmentValue<u32>| match x {
                SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            };
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(bars.len().max(1))
                .x_label_formatter(&fmt)
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style((FONT, 16))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(
                    Histogram::vertical(&chart)
                        .style(ACCENT.filled())
                        .margin(30)
                        .data(bars.iter().enumerate().map(|(i, (_, v))| (i as u32, *v))),
                )
                .map_err(err)?;
            chart
                .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                    let text = if v.fract() == 0.0 {
                        format!("{v:.0}")
                    } else {
                        format!("{v:.1}")
                    };
                    Text::new(
                        text,
                        (SegmentValue::CenterOf(i as u32), *v + max * 0.04),
                        (FONT, 20).into_font(),
                    )
                }))
                .map_err(err)?;
        }
        Series::Histogram(h) => {
            let max = h.iter().copied().max().unwrap_or(1).max(1) as f64;
            let mut chart = ChartBuilder::on(root)
                .caption(&labels.title, caption)
                .margin(20)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d((1u32..10u32).into_segmented(), 0f64..max * 1.15)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(10)
                .x_label_formatter(&|x| match x {
                    SegmentValue::CenterOf(v) => format!("{v}"),
                    _ => String::new(),
                })
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style((FONT, 16))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(
                    Histogram::vertical(&chart)
                        .style(ACCENT.filled())
                        .margin(12)
                        .data(h.iter().enumerate().map(|(i, n)| (i as u32 + 1, *n as f64))),
                )
                .map_err(err)?;
        }
        Series::Lines(points) => {
            let max = points
                .iter()
                .flat_map(|(_, v)| v.iter().copied())
                .fold(0.0, f64::max)
                .max(1.0);
            let n = points.len().max(1);
            let mut chart = ChartBuilder::on(root)
                .caption(&labels.title, caption)
                .margin(20)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(0f64..(n as f64 - 1.0).max(1.0), 0f64..max * 1.15)
                .map_err(err)?;
            let fmt = |x: &f64| {
                points
                    .get(x.round() as usize)
                    .map(|(d, _)| d.format("%d.%m").to_string())
                    .unwrap_or_default()
            };
            chart
                .configure_mesh()
                .x_labels(n.min(15))
                .x_label_formatter(&fmt)
                .label_style((FONT, 16))
                .draw()
                .map_err(err)?;
            let lines = points.first().map_or(0, |(_, v)| v.len());
            for k in 0..lines {
                let color = COLORS[k % COLORS.len()];
                let data: Vec<(f64, f64)> = points
                    .iter()
                    .enumerate()
                    .map(|(i, (_, v))| (i as f64, v.get(k).copied().unwrap_or(0.0)))
                    .collect();
                chart
                    .draw_series(LineSeries::new(data.clone(), color.stroke_width(3)))
                    .map_err(err)?
                    .label(labels.names.get(k).cloned().unwrap_or_default())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(3))
                    });
                chart
                    .draw_series(data.into_iter().map(|p| Circle::new(p, 4, color.filled())))
                    .map_err(err)?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font((FONT, 16))
                .draw()
                .map_err(err)?;
        }
        Series::Heatmap(h) => {
            let max = h
                .iter()
                .flat_map(|r| r.iter().copied())
                .max()
                .unwrap_or(1)
                .max(1) as f64;
            let mut chart = ChartBuilder::on(root)
                .caption(&labels.title, caption)
                .margin(20)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(
                    (0u32..23u32).into_segmented(),
                    (0u32..6u32).into_segmented(),
                )
                .map_err(err)?;
            let days = labels.names.clone();
            let fmt_y = |y: &SegmentValue<u32>| match y {
                SegmentValue::CenterOf(v) => days
                    .get(6usize.saturating_sub(*v as usize))
                    .cloned()
                    .unwrap_or_default(),
                _ => String::new(),
            };
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(24)
                .y_labels(7)
                .x_label_formatter(&|x| match x {
                    SegmentValue::CenterOf(v) => format!("{v}"),
                    _ => String::new(),
                })
                .y_label_formatter(&fmt_y)
                .label_style((FONT, 15))
                .draw()
                .map_err(err)?;
            let cells = (0..7u32)
                .flat_map(|d| (0..24u32).map(move |hr| (d, hr)))
                .map(|(d, hr)| {
                    let v = h[d as usize][hr as usize] as f64 / max;
                    let shade = RGBColor(
                        (245.0 - v * 204.0) as u8,
                        (248.0 - v * 120.0) as u8,
                        (250.0 - v * 65.0) as u8,
                    );
                    let y = 6 - d;
                    Rectangle::new(
                        [
                            (SegmentValue::Exact(hr), SegmentValue::Exact(y)),
                            (SegmentValue::Exact(hr + 1), SegmentValue::Exact(y + 1)),
                        ],
                        shade.filled(),
                    )
                });
            chart.draw_series(cells).map_err(err)?;
        }
    }
    Ok(())
}
