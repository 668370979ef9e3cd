//! The live calls of one user, in the order they were joined. Almost always one, so one
//! is held inline: a `Vec` would be an allocation for every member of every live call.

use super::Seq;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seqs {
    One(Seq),
    Many(Vec<Seq>),
}

impl Default for Seqs {
    fn default() -> Self {
        Seqs::Many(Vec::new())
    }
}

impl Seqs {
    pub fn as_slice(&self) -> &[Seq] {
        match self {
            Seqs::One(seq) => std::slice::from_ref(seq),
            Seqs::Many(seqs) => seqs,
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Seq> {
        self.as_slice().iter()
    }

    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    pub fn contains(&self, seq: &Seq) -> bool {
        self.as_slice().contains(seq)
    }

    pub fn push(&mut self, seq: Seq) {
        match self {
            Seqs::One(first) => *self = Seqs::Many(vec![*first, seq]),
            Seqs::Many(seqs) if seqs.is_empty() => *self = Seqs::One(seq),
            Seqs::Many(seqs) => seqs.push(seq),
        }
    }

    pub fn retain(&mut self, keep: impl Fn(&Seq) -> bool) {
        match self {
            Seqs::One(seq) if !keep(seq) => *self = Seqs::default(),
            Seqs::One(_) => {}
            Seqs::Many(seqs) => seqs.retain(keep),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_order_of_a_list() {
        let mut s = Seqs::default();
        assert!(s.is_empty());
        s.push(3);
        assert_eq!(s, Seqs::One(3));
        s.push(1);
        s.push(2);
        assert_eq!(s.as_slice(), [3, 1, 2]);
        s.retain(|x| *x != 1);
        assert_eq!(s.as_slice(), [3, 2]);
        assert!(s.contains(&2) && !s.contains(&1));
        let mut one = Seqs::One(5);
        one.retain(|x| *x != 5);
        assert!(one.is_empty());
        one.push(6);
        assert_eq!(one.as_slice(), [6]);
    }
}
