//! The order in which the indices' frames reach their sink.

use super::*;

/// Records the frames it gets (their one value) and fails at `fail`.
struct Record {
    got: std::sync::Mutex<Vec<(Level, i32)>>,
    fail: Option<i32>,
}

impl TableSink for Record {
    type Ready = DataFrame;

    fn ready(&self, _level: Level, frame: DataFrame) -> PolarsResult<DataFrame> {
        Ok(frame)
    }

    fn frame(&self, level: Level, frame: DataFrame) -> PolarsResult<()> {
        let v = frame.column("v")?.i32()?.get(0).unwrap_or(-1);
        if self.fail == Some(v) {
            polars_bail!(ComputeError: "no room for frame {v}");
        }
        self.got.lock().expect("lock").push((level, v));
        Ok(())
    }
}

#[test]
fn frames_are_passed_on_in_order_whichever_order_they_come_in() {
    use rayon::prelude::*;
    let arrivals: Vec<(Level, usize)> = [5, 0, 3, 1, 4, 2]
        .into_iter()
        .flat_map(|i| [(Level::Parcel, i), (Level::H3, 5 - i)])
        .collect();
    let sink = Record {
        got: Default::default(),
        fail: None,
    };
    let out = InOrder {
        sink: &sink,
        queues: Default::default(),
    };
    // Sequentially (each waits for the ones before it), then from several threads.
    for (level, at) in &arrivals {
        let frame = df!("v" => [*at as i32]).expect("frame");
        out.put(*level, *at, frame).expect("put");
    }
    let again = InOrder {
        sink: &sink,
        queues: Default::default(),
    };
    arrivals
        .par_iter()
        .with_max_len(1)
        .try_for_each(|(level, at)| again.put(*level, *at, df!("v" => [*at as i32])?))
        .expect("put");
    assert_eq!((out.left(), again.left()), (0, 0));
    drop((out, again));
    let got = sink.got.into_inner().expect("lock");
    for level in [Level::Parcel, Level::H3] {
        let order: Vec<i32> = got
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, v)| *v)
            .collect();
        assert_eq!(order, [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5], "{level}");
    }
    // A frame the sink refuses ends the computation with its error; the frames after it are
    // dropped, never passed on with a gap before them.
    let sink = Record {
        got: Default::default(),
        fail: Some(1),
    };
    let out = InOrder {
        sink: &sink,
        queues: Default::default(),
    };
    let mut errors = Vec::new();
    for at in [2, 0, 1, 3] {
        if let Err(e) = out.put(Level::Sector, at, df!("v" => [at as i32]).expect("frame")) {
            errors.push(e.to_string());
        }
    }
    assert_eq!(errors, ["no room for frame 1"]);
    assert_eq!(out.left(), 0);
    drop(out);
    assert_eq!(sink.got.into_inner().expect("lock"), [(Level::Sector, 0)]);
}
