"""The lab: what the course's authors run beyond the assignments (publishing results, README blocks, the HTML
reports, speed benchmarks, studies). It imports the course; the course never imports it."""
