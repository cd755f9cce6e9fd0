//! Messages, a missed call and an invitation for someone offline, kept across a restart of
//! every service (issue 15, points 4 and 5): two runs of `tests/browser/people_offline.mjs`
//! with the same browser profiles, `meet` restarted in between.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_waits_for_someone_offline_survives_a_restart() {
    let Some(modules) = common::node_modules() else { return };
    let mut sys = common::System::meet(&[]);
    sys.wait_ready().await;
    let profiles = common::temp_dir("profiles").display().to_string();
    for phase in ["1", "2"] {
        if phase == "2" {
            sys.restart().await;
        }
        let (base, modules, profiles) = (sys.base_url(), modules.clone(), profiles.clone());
        tokio::task::spawn_blocking(move || {
            common::run_browser_scenario(
                "people_offline.mjs",
                &base,
                &modules,
                &[("PHASE", phase), ("PROFILES", &profiles)],
            )
        })
        .await
        .expect("the scenario thread does not panic outside its assertion");
    }
    assert!(sys.stop().success(), "meet exits cleanly on SIGTERM");
    let _ = std::fs::remove_dir_all(&profiles);
}
